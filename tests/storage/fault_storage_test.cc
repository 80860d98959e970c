// FaultStorage (the campaigns' fault wrapper), leftovers of interrupted uploads, and the
// ListMultipartUploads parser.
#include "seshat/storage/fault_storage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "../test_support.h"
#include "seshat/storage/local_storage.h"
#include "seshat/storage/s3_xml.h"
#include "seshat/storage/storage.h"
#include "seshat/storage/wrappers.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/error.h"

namespace seshat::storage {
namespace {

using testing_support::TempDir;

std::shared_ptr<FaultStorage> faulty(const std::string& root, const std::string& spec) {
  auto rules = FaultStorage::parse(spec);
  EXPECT_TRUE(rules.has_value()) << spec;
  return std::make_shared<FaultStorage>(std::make_shared<LocalStorage>(root),
                                        rules.value_or(std::vector<FaultStorage::Rule>{}), "");
}

TEST(FaultStorageParse, AcceptsTheDocumentedForms) {
  for (const char* spec : {"", "put@1=fail", "put:seshat/db@2=enospc", "get@3+=corrupt", "any@*=slow:20",
                           "write:containers@4=kill,list@1=transient", "commit@1=erofs", "head@2=short"})
    EXPECT_TRUE(FaultStorage::parse(spec).has_value()) << spec;
}

TEST(FaultStorageParse, RejectsMalformedRules) {
  for (const char* spec :
       {"put", "put@=fail", "put@0=fail", "put@x=fail", "bogus@1=fail", "put@1=explode", "put=fail@1"})
    EXPECT_FALSE(FaultStorage::parse(spec).has_value()) << spec;
}

TEST(FaultStorage, FailsOnlyTheNthMatchingCall) {
  TempDir dir;
  auto s = faulty(dir.path(), "put:db/@2=fail");
  s->put("other/a", "1");  // does not match the name part: not counted
  s->put("db/1", "1");
  EXPECT_THROW(s->put("db/2", "2"), Error);
  s->put("db/3", "3");
  EXPECT_EQ(s->list("db/").size(), 2u);
  EXPECT_FALSE(s->head("db/2").has_value());
}

TEST(FaultStorage, PlusFailsEveryCallFromTheNthOn) {
  TempDir dir;
  auto s = faulty(dir.path(), "put@2+=enospc");
  s->put("a", "1");
  for (const char* n : {"b", "c", "d"}) {
    try {
      s->put(n, "x");
      FAIL() << "put " << n << " succeeded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos);
      EXPECT_EQ(e.kind(), ErrorKind::kPermanent);
    }
  }
}

TEST(FaultStorage, DamagesReads) {
  TempDir dir;
  auto s = faulty(dir.path(), "get:x@1=short,range:x@1=corrupt");
  s->put("x", "0123456789");
  EXPECT_EQ(s->get("x"), "01234");
  std::string c = s->get_range("x", 0, 10);
  EXPECT_EQ(c.size(), 10u);
  EXPECT_NE(c, "0123456789");
  EXPECT_EQ(s->get("x"), "0123456789");
  EXPECT_EQ(s->get_range("x", 0, 10), "0123456789");
}

// Whole-object gets and ranged reads are counted apart: a rule aimed at one never shifts
// because of calls of the other kind (restores read ranges, catalogs whole objects).
TEST(FaultStorage, GetAndRangeCountedApart) {
  TempDir dir;
  auto s = faulty(dir.path(), "range:x@2=fail");
  s->put("x", "0123456789");
  EXPECT_EQ(s->get("x"), "0123456789");
  EXPECT_EQ(s->get("x"), "0123456789");
  EXPECT_EQ(s->get_range("x", 0, 4), "0123");
  std::string buf;
  EXPECT_THROW(s->read_range("x", 0, 4, buf), Error);
  EXPECT_EQ(s->get("x"), "0123456789");
}

TEST(FaultStorage, FailedUploadChunkLeavesNoObject) {
  TempDir dir;
  auto s = faulty(dir.path(), "write@2=transient");
  {
    auto w = s->create("c/obj", ObjectClass::kMetadata);
    w->write("first");
    EXPECT_THROW(w->write("second"), Error);
  }
  EXPECT_FALSE(s->head("c/obj").has_value());
}

TEST(FaultStorage, IoLogCountsBytesSent) {
  TempDir dir;
  std::string log = dir / "io.log";
  auto rules = FaultStorage::parse("");
  FaultStorage s(std::make_shared<LocalStorage>(dir / "store"), *rules, log);
  s.put("a", "12345");
  auto w = s.create("b", ObjectClass::kMetadata);
  w->write("123");
  w->write("4567");
  w->commit();
  EXPECT_EQ(testing_support::slurp(log), "put a 5\nwrite b 3\nwrite b 4\n");
}

TEST(LocalStorageLeftovers, RemovesTempFilesOfDeadProcessesOnly) {
  TempDir dir;
  LocalStorage s(dir.path());
  s.put("containers/SEF_a", "kept");
  testing_support::mkdirs(dir / "containers");
  testing_support::spit(dir / "containers/.seshat-tmp-999999999-1", "left by a killed backup");  // no such pid
  std::string mine = ".seshat-tmp-" + std::to_string(::getpid()) + "-77";
  testing_support::spit(dir / ("containers/" + mine), "being written right now");
  Leftovers l = s.remove_incomplete("containers/");
  EXPECT_EQ(l.objects, 1u);
  EXPECT_EQ(l.bytes, std::string("left by a killed backup").size());
  EXPECT_FALSE(std::filesystem::exists(dir / "containers/.seshat-tmp-999999999-1"));
  EXPECT_TRUE(std::filesystem::exists(dir / ("containers/" + mine)));
  EXPECT_EQ(s.get("containers/SEF_a"), "kept");
  EXPECT_EQ(s.remove_incomplete("nothing/here/").objects, 0u);
}

TEST(S3Xml, ParsesListMultipartUploads) {
  // Shaped like the example of the S3 API reference.
  const char* body = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>containers/SEF_b</NextKeyMarker><NextUploadIdMarker>id-b</NextUploadIdMarker>
  <MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>containers/SEF_a</Key><UploadId>id-a</UploadId><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>
  <Upload><Key>containers/SEF_b</Key><UploadId>id-b</UploadId><Initiated>2010-11-10T20:49:33.000Z</Initiated></Upload>
</ListMultipartUploadsResult>)";
  UploadsPage p = parse_uploads_result(body);
  ASSERT_EQ(p.uploads.size(), 2u);
  EXPECT_EQ(p.uploads[0].first, "containers/SEF_a");
  EXPECT_EQ(p.uploads[1].second, "id-b");
  EXPECT_TRUE(p.truncated);
  EXPECT_EQ(p.next_key_marker, "containers/SEF_b");
  EXPECT_EQ(p.next_upload_id_marker, "id-b");
  EXPECT_THROW(parse_uploads_result("<Error><Code>NotImplemented</Code></Error>"), Error);
  EXPECT_THROW(parse_uploads_result("not xml"), Error);
}

}  // namespace
}  // namespace seshat::storage
