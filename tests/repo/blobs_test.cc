// The container BlobWriter and the store BlobReader: what backups and restores stand on.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "repo_fixture.h"
#include "seshat/storage/fault_storage.h"

namespace seshat::repo {
namespace {

using test::store_files;
using test::TestRepo;

std::string bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Reads every blob of `cat` back through the repository's reader; tag = blob index.
std::map<uint64_t, std::string> read_all(Repository& repo, const catalog::Catalog& cat,
                                         std::map<uint64_t, std::string>* failed = nullptr) {
  std::vector<BlobRequest> rq;
  for (uint32_t i = 0; i < cat.blobs.size(); ++i) rq.push_back({&cat.blobs[i], i});
  std::mutex mu;
  std::map<uint64_t, std::string> got;
  BlobReader::Sink sink;
  sink.blob = [&](uint64_t tag, std::string_view plain) {
    std::lock_guard<std::mutex> lk(mu);
    EXPECT_TRUE(got.emplace(tag, std::string(plain)).second) << "blob " << tag << " delivered twice";
  };
  sink.failed = [&](uint64_t tag, const Error& e) {
    std::lock_guard<std::mutex> lk(mu);
    if (failed)
      (*failed)[tag] = e.what();
    else
      ADD_FAILURE() << "blob " << tag << ": " << e.what();
  };
  repo.blob_reader(cat)->read(rq, 4, sink);
  return got;
}

TEST(BlobWriter, WhatIsWrittenReadsBack) {
  TestRepo t;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 30; ++i) files.push_back({"f" + std::to_string(i), bytes(1000 + 997 * i, i)});
  files.push_back({"compressible", std::string(100000, 'z')});
  catalog::Catalog cat = store_files(*t.repo, files);
  auto got = read_all(*t.repo, cat);
  ASSERT_EQ(got.size(), files.size());
  for (uint32_t i = 0; i < files.size(); ++i) EXPECT_EQ(got[i], files[i].second) << files[i].first;
  EXPECT_TRUE(cat.blobs.back().compressed);
}

TEST(BlobWriter, ContainersAreSplitAtTheirSizeAndNamesNeverReused) {
  TestRepo t;
  // A planted object where the first container would go: it must be left alone.
  std::string first = container_name("h", "/src", 1700000000000000000LL, 0);
  t.store->put(first, "planted");
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 12; ++i) files.push_back({"f" + std::to_string(i), bytes(300 << 10, i)});
  catalog::Catalog cat = store_files(*t.repo, files, 1 << 20);
  EXPECT_GE(cat.containers.size(), 3u);
  EXPECT_EQ(t.store->get(first), "planted");
  for (const auto& c : cat.containers) {
    EXPECT_NE(c.name, first);
    EXPECT_LE(c.size, (1u << 20) + (300u << 10) + 4096)
        << c.name;  // closed before passing the limit (one blob over at most)
    EXPECT_EQ(t.store->head(c.name), std::optional<uint64_t>(c.size));
  }
  EXPECT_EQ(read_all(*t.repo, cat).size(), files.size());
}

TEST(BlobWriter, WritesFromManyThreadsLandInPlacementOrder) {
  TestRepo t;
  catalog::Catalog cat;
  uint32_t folder = cat.find_or_add_folder(cat.find_or_add_host("h"), "/src");
  BlobWriter::Hooks hooks;
  hooks.opened = [&](const std::string& name) { return cat.add_container(name, 0); };
  hooks.committed = [&](uint32_t id, uint64_t size, size_t, bool) { cat.containers[id].size = size; };
  auto w = t.repo->blob_writer({"h", "/src", 1}, 8ull << 30, hooks);
  std::mutex mu;  // the caller's lock
  std::vector<std::pair<catalog::BlobRef, std::string>> placed;
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      SealedBuffer b;
      for (int i = 0; i < 25; ++i) {
        std::string plain = bytes(5000 + i * 37, k * 100 + i);
        w->seal(plain, b);
        Placement p;
        {
          std::lock_guard<std::mutex> lk(mu);
          p = w->place(b, BlobOrigin{});
          placed.push_back({p.ref, plain});
        }
        if (i % 3 == 0) std::this_thread::yield();
        w->write(p, b.bytes);
      }
    });
  for (auto& th : threads) th.join();
  {
    std::lock_guard<std::mutex> lk(mu);
    w->finish();
  }
  for (const auto& [ref, plain] : placed) cat.blobs.push_back(ref);
  auto got = read_all(*t.repo, cat);
  ASSERT_EQ(got.size(), placed.size());
  for (size_t i = 0; i < placed.size(); ++i) EXPECT_EQ(got[i], placed[i].second);
  (void)folder;
}

TEST(BlobWriter, AnAbandonedPlacementFailsTheWritesAfterIt) {
  TestRepo t;
  auto w = t.repo->blob_writer({"h", "/src", 1}, 8ull << 30, {});
  SealedBuffer a, b;
  w->seal("first", a);
  w->seal("second", b);
  Placement pa = w->place(a, {});
  Placement pb = w->place(b, {});
  w->abandon(pa);
  EXPECT_THROW(w->write(pb, b.bytes), Error);  // instead of waiting for pa forever
}

TEST(BlobWriter, ALostLockStopsTheCommit) {
  TestRepo t;
  BlobWriter::Hooks hooks;
  hooks.may_commit = [] { return false; };
  auto w = t.repo->blob_writer({"h", "/src", 1}, 8ull << 30, hooks);
  SealedBuffer a;
  w->seal("data", a);
  Placement p = w->place(a, {});
  w->write(p, a.bytes);
  EXPECT_THROW_KIND(kLocked, w->finish());
  EXPECT_TRUE(t.store->list(kContainerPrefix).empty());  // nothing committed
}

TEST(ReadPlan, GroupsSortsCoalescesAndSharesRanges) {
  std::vector<catalog::BlobRef> refs(6);
  auto set = [&](int i, uint32_t c, uint64_t off, uint32_t len) {
    refs[i].container = c;
    refs[i].offset = off;
    refs[i].length = len;
  };
  set(0, 1, 5000, 100);  // container 1, far from the others
  set(1, 0, 1000, 100);
  set(2, 0, 16, 100);        // close to 1: one read
  set(3, 0, 16, 100);        // the same blob twice (two files, one content)
  set(4, 0, 1u << 23, 100);  // past the largest read
  set(5, 1, 5100, 50);
  std::vector<BlobRequest> rq;
  for (size_t i = 0; i < refs.size(); ++i) rq.push_back({&refs[i], i});
  auto reads = plan_reads(rq, ReadPlan{});
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0].container, 0u);
  EXPECT_EQ(reads[0].start, 16u);
  EXPECT_EQ(reads[0].end, 1100u);
  EXPECT_EQ(reads[0].members.size(), 3u);
  EXPECT_EQ(reads[1].start, 1u << 23);
  EXPECT_EQ(reads[2].container, 1u);
  EXPECT_EQ(reads[2].members, (std::vector<size_t>{0, 5}));
  ReadPlan tight{.max_range = 120, .max_gap = 10};
  EXPECT_EQ(plan_reads(rq, tight).size(), 5u);  // only the shared blob and its twin stay together
}

TEST(BlobReader, AFailedCoalescedReadIsRetriedBlobByBlob) {
  TestRepo t;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 10; ++i) files.push_back({"f" + std::to_string(i), bytes(2000, i)});
  catalog::Catalog cat = store_files(*t.repo, files);
  // The first ranged read fails: every blob still comes back.
  auto faulty = std::make_shared<storage::FaultStorage>(t.store, *storage::FaultStorage::parse("range@1=fail"), "");
  auto repo = Repository::open(faulty, "passphrase");
  EXPECT_EQ(read_all(*repo, cat).size(), files.size());
}

TEST(BlobReader, DamageIsReportedPerBlobAndTheRestComesBack) {
  TestRepo t;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 10; ++i) files.push_back({"f" + std::to_string(i), bytes(2000, i)});
  catalog::Catalog cat = store_files(*t.repo, files);
  std::string path = t.file(cat.containers[0].name);
  std::string data = testing_support::slurp(path);
  data[cat.blobs[3].offset + 5] ^= 0x40;  // one blob's bytes
  testing_support::spit(path, data);
  std::map<uint64_t, std::string> failed;
  auto got = read_all(*t.repo, cat, &failed);
  EXPECT_EQ(got.size(), files.size() - 1);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[3].find("authentication failed"), std::string::npos) << failed[3];
}

}  // namespace
}  // namespace seshat::repo
