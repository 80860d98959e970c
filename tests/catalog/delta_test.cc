// Deltas (catalog format 3): a mark, what was added and changed since it, applied to the
// state it was made from or, after another writer's delta, placed after it; rollback.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "../test_support.h"
#include "catalog_fixture.h"
#include "seshat/catalog/codec.h"
#include "seshat/util/xattrs.h"

namespace seshat::catalog {
namespace {

using test::Sample;
using testing_support::OnlySeshatErrors;

// One more backup of `path` (host `host`): a new directory and file, a changed file, a
// symlink, a special file with an extra, and changes made in place to older records.
uint32_t add_backup_of(Catalog& c, const std::string& host, const std::string& path, uint8_t seed) {
  uint32_t h = c.find_or_add_host(host);
  uint32_t f = c.find_or_add_folder(h, path);
  uint32_t b = c.add_backup(f, 1700000000000000000LL + seed);
  uint32_t k = c.add_container("containers/SEF_" + host + "_" + std::to_string(seed), 0);
  uint32_t content = c.add_content(test::hash_of(seed, 1), 500, {test::blob(k, 16, 100), test::blob(k, 116, 7)});
  uint32_t root = c.folders[f].root;
  c.add_version(root, test::dir_version(b));
  uint32_t sub = c.add_entry(root, "sub" + std::to_string(seed));
  c.add_version(sub, test::dir_version(b, 77));
  uint32_t file = c.add_entry(sub, "file");
  Extra x;
  x.dev = 0x803;
  x.fs_flags = 0x10;
  std::string xa = xattrs::encode({{"user.k", "v" + std::to_string(seed)}});
  x.xattrs_off = c.add_string(xa);
  x.xattrs_len = static_cast<uint32_t>(xa.size());
  Version fv = test::file_version(b, content, 500);
  fv.flags = kLinked;
  c.add_version(file, fv, x);
  Version lv;
  lv.backup = b;
  lv.type = Type::kSymlink;
  lv.mode = 0777;
  lv.content = c.add_string("file");
  lv.size = 4;
  c.add_version(c.add_entry(sub, "link"), lv);
  Extra dev;
  dev.rdev = 0x0501;
  c.add_version(c.add_entry(sub, "tty"), Version::special(b, Type::kCharDev, {.mode = 0620}), dev);
  c.containers[k].size = 123456;
  c.backups[b].complete = true;
  c.backups[b].files_stored = 4;
  c.backups[b].bytes_stored = 500;
  c.folders[f].automatic = seed % 2 == 0;
  return b;
}

TEST(Delta, AppliedToItsStateGivesTheWriterCatalog) {
  Sample s;
  const std::string before = encode(s.c);
  Mark m = s.c.mark();
  add_backup_of(s.c, "laptop", "/home/u", 4);  // an existing folder
  // Changes in place to records older than the mark.
  s.c.backups[s.b2].complete = true;
  s.c.backups[s.b2].files_stored = 99;
  s.c.containers[1].size = 8192;
  s.c.folders[s.etc].automatic = true;
  s.c.add_version(s.alpha, test::tombstone(s.b3));
  std::string delta = encode_delta(s.c, m);
  EXPECT_LT(delta.size(), 600u);

  Catalog reader = decode(before);
  apply_delta(reader, delta, true);
  EXPECT_EQ(encode(reader), encode(s.c));
  reader.build_child_index();
  auto e = reader.lookup(s.home, "/home/u/sub4/file");
  ASSERT_TRUE(e.has_value());
  uint32_t v = reader.entries[*e].latest;
  EXPECT_EQ(reader.xattrs(v), s.c.xattrs(v));
  EXPECT_EQ(reader.extra(v)->dev, 0x803u);
  // The tombstone went onto alpha's chain.
  EXPECT_EQ(reader.versions[reader.entries[s.alpha].latest].type, Type::kDeleted);
  EXPECT_EQ(reader.version_at(s.alpha, s.b1), s.c.version_at(s.alpha, s.b1));
}

TEST(Delta, NothingChangedIsAFewBytes) {
  Sample s;
  Mark m = s.c.mark();
  EXPECT_LT(encode_delta(s.c, m).size(), 40u);
  s.c.add_backup(s.home, 1);  // an unchanged backup: its record only
  std::string d = encode_delta(s.c, m);
  EXPECT_LT(d.size(), 60u);
  Catalog r = decode(encode(Sample().c));
  apply_delta(r, d, true);
  EXPECT_EQ(r.backups.size(), s.c.backups.size());
}

TEST(Delta, ExactApplyRefusesAnotherState) {
  Sample s;
  Mark m = s.c.mark();
  add_backup_of(s.c, "laptop", "/home/u", 1);
  std::string d = encode_delta(s.c, m);
  Catalog other = Sample().c;
  other.add_backup(s.home, 5);  // one more backup than the writer saw
  const std::string was = encode(other);
  EXPECT_THROW_KIND(kCorruption, apply_delta(other, d, true));
  EXPECT_EQ(encode(other), was);
}

TEST(Delta, RetryPlacesItAfterAnotherWriter) {
  // Two writers from the same state: A backs up /a of a new host, B /b of the same new host
  // and a new folder of an old host. A commits first; B's delta goes after it.
  Sample s;
  Catalog a = s.c, b = s.c, expected = s.c;
  Mark m = s.c.mark();
  add_backup_of(a, "new", "/a", 2);
  add_backup_of(b, "new", "/b", 3);
  add_backup_of(b, "server", "/srv", 5);
  std::string da = encode_delta(a, m), db = encode_delta(b, m);
  // What a single writer doing A's backup and then B's would have.
  add_backup_of(expected, "new", "/a", 2);
  add_backup_of(expected, "new", "/b", 3);
  add_backup_of(expected, "server", "/srv", 5);

  Catalog r = s.c;
  apply_delta(r, da, true);
  EXPECT_THROW_KIND(kCorruption, apply_delta(r, db, true));  // not its state
  apply_delta(r, db, false);
  EXPECT_EQ(encode(r), encode(expected));
  EXPECT_EQ(r.hosts.size(), s.c.hosts.size() + 1);  // "new" once
  r.build_child_index();
  for (const char* p : {"/a", "/b", "/srv"}) {
    auto h = r.find_host(std::string(p) == "/srv" ? "server" : "new");
    ASSERT_TRUE(h);
    auto f = r.find_folder(*h, p);
    ASSERT_TRUE(f) << p;
    auto e = r.lookup(*f, std::string(p) + "/sub" +
                              (std::string(p) == "/a"   ? "2"
                               : std::string(p) == "/b" ? "3"
                                                        : "5") +
                              "/link");
    ASSERT_TRUE(e) << p;
    EXPECT_EQ(r.symlink_target(r.versions[r.entries[*e].latest]), "file");
  }
}

TEST(Delta, BothAddingOneFolderIsAConflictAndChangesNothing) {
  Sample s;
  Catalog a = s.c, b = s.c;
  Mark m = s.c.mark();
  add_backup_of(a, "new", "/same", 2);
  add_backup_of(b, "new", "/same", 3);
  Catalog r = s.c;
  apply_delta(r, encode_delta(a, m), true);
  const std::string was = encode(r);
  EXPECT_THROW_KIND(kLocked, apply_delta(r, encode_delta(b, m), false));
  EXPECT_EQ(encode(r), was);
}

TEST(Delta, RollbackGoesBackToTheMark) {
  Sample s;
  const std::string before = encode(s.c);
  Mark m = s.c.mark();
  add_backup_of(s.c, "laptop", "/home/u", 6);
  add_backup_of(s.c, "other", "/x", 7);
  s.c.backups[s.b2].bytes_stored = 1;
  s.c.containers[0].size = 1;
  s.c.folders[s.home].automatic = false;
  (void)s.c.find_content(test::hash_of(7, 1));  // builds the content index past the mark
  s.c.rollback(m);
  EXPECT_EQ(encode(s.c), before);
  EXPECT_FALSE(s.c.find_content(test::hash_of(7, 1)).has_value());
  EXPECT_TRUE(s.c.find_content(test::hash_of(1)).has_value());
}

TEST(Delta, RandomDamageOnlyThrowsSeshatErrorsAndIsAllOrNothing) {
  Sample s;
  const Catalog base = s.c;
  const std::string base_bytes = encode(base);
  Mark m = s.c.mark();
  add_backup_of(s.c, "laptop", "/home/u", 8);
  add_backup_of(s.c, "two", "/t", 9);
  const std::string d = encode_delta(s.c, m);
  std::mt19937 rng(16);
  int applied = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string x = d;
    for (int k = 0; k < 1 + i % 3; ++k) {
      size_t at = rng() % x.size();
      x[at] = i % 2 ? static_cast<char>(rng() & 0xff) : static_cast<char>(x[at] ^ (1 << (rng() % 8)));
    }
    if (i % 7 == 0) x.resize(rng() % x.size());
    Catalog c = base;
    bool ok = false;
    ASSERT_TRUE(OnlySeshatErrors([&] {
      apply_delta(c, x, i % 5 != 0);
      ok = true;
      ++applied;
      c.build_child_index();
      for (uint32_t e = 0; e < c.entries.size(); ++e) {
        (void)c.path(e);
        for (uint32_t b = 0; b < c.backups.size(); ++b) (void)c.version_at(e, b);
      }
      for (uint32_t f = 0; f < c.folders.size(); ++f)
        for (uint32_t b = 0; b < c.backups.size(); ++b)
          c.for_each_at(c.folders[f].root, b, [&](uint32_t, uint32_t v) {
            if (c.versions[v].type == Type::kSymlink) (void)c.symlink_target(c.versions[v]);
            (void)c.xattrs(v);
          });
    })) << "mutation "
        << i;
    if (!ok) {
      ASSERT_EQ(encode(c), base_bytes) << "a failed delta left changes, mutation " << i;
    }
  }
  EXPECT_GT(applied, 0);
}

}  // namespace
}  // namespace seshat::catalog
