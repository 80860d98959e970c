#include "seshat/catalog/catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "catalog_fixture.h"

namespace seshat::catalog {
namespace {

using test::hash_of;
using test::Sample;

std::vector<std::string> child_names(const Catalog& c, uint32_t entry) {
  std::vector<std::string> out;
  auto [b, e] = c.children(entry);
  for (auto it = b; it != e; ++it) out.emplace_back(c.name(*it));
  return out;
}

std::vector<std::string> paths_at(const Catalog& c, uint32_t root, uint32_t backup) {
  std::vector<std::string> out;
  c.for_each_at(root, backup, [&](uint32_t e, uint32_t v) {
    EXPECT_EQ(c.version_at(e, backup), v);
    EXPECT_NE(c.versions[v].type, Type::kDeleted);
    out.push_back(c.path(e));
  });
  return out;
}

TEST(Catalog, HostsAreFoundOrAdded) {
  Catalog c;
  EXPECT_EQ(c.find_host("a"), std::nullopt);
  uint32_t a = c.find_or_add_host("a");
  uint32_t b = c.find_or_add_host("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(c.find_or_add_host("a"), a);
  EXPECT_EQ(c.find_host("b"), b);
  EXPECT_EQ(c.find_host("A"), std::nullopt);  // names are case-sensitive
  EXPECT_EQ(c.hosts.size(), 2u);
  EXPECT_EQ(c.hosts[b].name, "b");
}

TEST(Catalog, FoldersArePerHostAndGetARootEntry) {
  Catalog c;
  uint32_t h1 = c.find_or_add_host("h1");
  uint32_t h2 = c.find_or_add_host("h2");
  uint32_t f1 = c.find_or_add_folder(h1, "/home/u");
  uint32_t f2 = c.find_or_add_folder(h2, "/home/u");
  uint32_t f3 = c.find_or_add_folder(h1, "/srv");
  EXPECT_NE(f1, f2);
  EXPECT_NE(f1, f3);
  EXPECT_EQ(c.find_or_add_folder(h1, "/home/u"), f1);
  EXPECT_EQ(c.entries.size(), 3u);  // no new root for an existing folder
  EXPECT_EQ(c.find_folder(h2, "/home/u"), f2);
  EXPECT_EQ(c.find_folder(h2, "/srv"), std::nullopt);
  EXPECT_EQ(c.folders[f2].host, h2);
  EXPECT_TRUE(c.folders[f1].automatic);
  uint32_t root = c.folders[f3].root;
  EXPECT_EQ(c.entries[root].parent, kNone);
  EXPECT_EQ(c.entries[root].latest, kNone);
  EXPECT_EQ(c.name(root), "/srv");
  EXPECT_EQ(c.path(root), "/srv");
  EXPECT_NE(c.folders[f1].root, c.folders[f2].root);
}

TEST(Catalog, BackupsAndContainers) {
  Catalog c;
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  uint32_t b0 = c.add_backup(f, 100);
  uint32_t b1 = c.add_backup(f, 200);
  EXPECT_EQ(b0, 0u);
  EXPECT_EQ(b1, 1u);
  EXPECT_EQ(c.backups[b1].time_ns, 200);
  EXPECT_EQ(c.backups[b1].folder, f);
  EXPECT_FALSE(c.backups[b1].complete);
  EXPECT_EQ(c.add_container("containers/x", 10), 0u);
  EXPECT_EQ(c.add_container("containers/y", 20), 1u);
  EXPECT_EQ(c.containers[1].name, "containers/y");
  EXPECT_EQ(c.containers[1].size, 20u);
}

TEST(Catalog, NamesAndPaths) {
  Sample s;
  EXPECT_EQ(s.c.name(s.a), "a.txt");
  EXPECT_EQ(s.c.path(s.a), "/home/u/docs/a.txt");
  EXPECT_EQ(s.c.path(s.root), "/home/u");
  EXPECT_EQ(s.c.path(s.docs), "/home/u/docs");
  // Under the root folder "/" there is no doubled slash.
  EXPECT_EQ(s.c.path(s.etc_root), "/");
  EXPECT_EQ(s.c.path(s.etc_dir), "/etc");
  EXPECT_EQ(s.c.path(s.passwd), "/etc/passwd");
}

TEST(Catalog, SymlinkTarget) {
  Sample s;
  uint32_t v = s.c.version_at(s.link, s.b3);
  ASSERT_NE(v, kNone);
  EXPECT_EQ(s.c.versions[v].type, Type::kSymlink);
  EXPECT_EQ(s.c.symlink_target(s.c.versions[v]), "docs/a.txt");
}

TEST(Catalog, AddVersionChainsNewestFirst) {
  Sample s;
  EXPECT_EQ(s.c.entries[s.a].latest, s.a_v2);
  EXPECT_EQ(s.c.versions[s.a_v2].prev, s.a_v1);
  EXPECT_EQ(s.c.versions[s.a_v1].prev, s.a_v0);
  EXPECT_EQ(s.c.versions[s.a_v0].prev, kNone);
}

TEST(Catalog, VersionAtSeveralBackups) {
  Sample s;
  const Catalog& c = s.c;
  EXPECT_EQ(c.version_at(s.a, s.b0), s.a_v0);
  EXPECT_EQ(c.version_at(s.a, s.b1), s.a_v1);
  EXPECT_EQ(c.version_at(s.a, s.b2), s.a_v2);  // the tombstone is returned
  EXPECT_EQ(c.versions[c.version_at(s.a, s.b2)].type, Type::kDeleted);
  EXPECT_EQ(c.version_at(s.a, s.b3), s.a_v2);  // still deleted later
  EXPECT_EQ(c.versions[s.a_v1].content, s.c1);

  EXPECT_EQ(c.version_at(s.docs, s.b1), s.docs_v0);  // unchanged in b1: the b0 version
  EXPECT_EQ(c.version_at(s.docs, s.b2), s.docs_v2);
  EXPECT_EQ(c.version_at(s.docs, s.b3), s.docs_v3);

  EXPECT_EQ(c.version_at(s.zeta, s.b1), s.zeta_v0);
  EXPECT_EQ(c.version_at(s.zeta, s.b2), s.zeta_v2);
  EXPECT_EQ(c.version_at(s.zeta, s.b3), s.zeta_v3);

  EXPECT_EQ(c.version_at(s.b, s.b0), kNone);  // did not exist yet
  EXPECT_EQ(c.version_at(s.newf, s.b2), kNone);
  EXPECT_EQ(c.version_at(s.alpha, s.b0), kNone);
  EXPECT_NE(c.version_at(s.alpha, s.b1), kNone);
}

TEST(Catalog, VersionAtBetweenSparseVersions) {
  Catalog c;
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  for (int i = 0; i < 6; ++i) c.add_backup(f, i);
  uint32_t e = c.add_entry(c.folders[f].root, "x");
  uint32_t v1 = c.add_version(e, test::file_version(1, kNone, 0));
  uint32_t v4 = c.add_version(e, test::file_version(4, kNone, 0));
  EXPECT_EQ(c.version_at(e, 0), kNone);
  EXPECT_EQ(c.version_at(e, 1), v1);
  EXPECT_EQ(c.version_at(e, 2), v1);
  EXPECT_EQ(c.version_at(e, 3), v1);
  EXPECT_EQ(c.version_at(e, 4), v4);
  EXPECT_EQ(c.version_at(e, 5), v4);
  EXPECT_EQ(c.version_at(e, kNone - 1), v4);
}

TEST(Catalog, ChildrenSortedBytewise) {
  Catalog c;
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  uint32_t root = c.folders[f].root;
  for (const char* n : {"b", "\xc3\xa9t\xc3\xa9", "B", "a", "aa", "a b", "_", "0"}) c.add_entry(root, n);
  uint32_t sub = c.add_entry(root, "zsub");
  c.add_entry(sub, "inner");
  c.build_child_index();
  EXPECT_EQ(child_names(c, root),
            (std::vector<std::string>{"0", "B", "_", "a", "a b", "aa", "b", "zsub", "\xc3\xa9t\xc3\xa9"}));
  EXPECT_EQ(child_names(c, sub), std::vector<std::string>{"inner"});
  EXPECT_TRUE(child_names(c, c.entries.size() - 1).empty());  // a leaf
}

TEST(Catalog, ChildrenIndexIsASnapshot) {
  Sample s;
  uint32_t later = s.c.add_entry(s.root, "added-later");
  auto before = child_names(s.c, s.root);
  EXPECT_EQ(std::count(before.begin(), before.end(), "added-later"), 0);
  EXPECT_TRUE(child_names(s.c, later).empty());
  s.c.build_child_index();
  auto names = child_names(s.c, s.root);
  EXPECT_EQ(std::count(names.begin(), names.end(), "added-later"), 1);
  EXPECT_EQ(names, (std::vector<std::string>{"Alpha", "added-later", "docs", "link", "zeta"}));
}

TEST(Catalog, ChildIndexCurrent) {
  Catalog c;
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  EXPECT_FALSE(c.child_index_current());
  c.build_child_index();
  EXPECT_TRUE(c.child_index_current());
  c.add_entry(c.folders[f].root, "x");
  EXPECT_FALSE(c.child_index_current());
  c.build_child_index();
  EXPECT_TRUE(c.child_index_current());
  c.add_version(1, test::dir_version(0));  // versions do not change the tree
  EXPECT_TRUE(c.child_index_current());
}

TEST(Catalog, ChildrenBeforeAnyIndexIsEmpty) {
  Catalog c;
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  c.add_entry(c.folders[f].root, "x");
  auto [b, e] = c.children(c.folders[f].root);
  EXPECT_EQ(b, e);
}

TEST(Catalog, ForEachAtYieldsPresentEntriesParentsFirstInOrder) {
  Sample s;
  EXPECT_EQ(paths_at(s.c, s.root, s.b0), (std::vector<std::string>{"/home/u", "/home/u/docs", "/home/u/docs/a.txt",
                                                                   "/home/u/link", "/home/u/zeta"}));
  EXPECT_EQ(paths_at(s.c, s.root, s.b1),
            (std::vector<std::string>{"/home/u", "/home/u/Alpha", "/home/u/docs", "/home/u/docs/a.txt",
                                      "/home/u/docs/b.txt", "/home/u/link", "/home/u/zeta"}));
  EXPECT_EQ(paths_at(s.c, s.root, s.b2), (std::vector<std::string>{"/home/u", "/home/u/Alpha", "/home/u/link"}));
  EXPECT_EQ(paths_at(s.c, s.root, s.b3),
            (std::vector<std::string>{"/home/u", "/home/u/Alpha", "/home/u/docs", "/home/u/docs/new.txt",
                                      "/home/u/link", "/home/u/zeta"}));
  // A subtree root.
  EXPECT_EQ(paths_at(s.c, s.docs, s.b1),
            (std::vector<std::string>{"/home/u/docs", "/home/u/docs/a.txt", "/home/u/docs/b.txt"}));
  EXPECT_TRUE(paths_at(s.c, s.docs, s.b2).empty());
  // The other folder.
  EXPECT_EQ(paths_at(s.c, s.etc_root, s.b4), (std::vector<std::string>{"/", "/etc", "/etc/passwd"}));
}

TEST(Catalog, ForEachAtSkipsTheSubtreeOfADeletedDirectory) {
  // Children without tombstones of their own still vanish with their parent.
  Catalog c;
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  uint32_t b0 = c.add_backup(f, 0), b1 = c.add_backup(f, 1);
  uint32_t root = c.folders[f].root;
  uint32_t dir = c.add_entry(root, "dir");
  uint32_t deep = c.add_entry(dir, "deep");
  uint32_t file = c.add_entry(deep, "file");
  c.add_version(root, test::dir_version(b0));
  c.add_version(dir, test::dir_version(b0));
  c.add_version(deep, test::dir_version(b0));
  c.add_version(file, test::file_version(b0, kNone, 0));
  c.add_version(dir, test::tombstone(b1));
  c.build_child_index();
  EXPECT_EQ(paths_at(c, root, b0), (std::vector<std::string>{"/d", "/d/dir", "/d/dir/deep", "/d/dir/deep/file"}));
  EXPECT_EQ(paths_at(c, root, b1), std::vector<std::string>{"/d"});
}

TEST(Catalog, ForEachAtDoesNotDescendIntoAFileThatWasADirectory) {
  Catalog c;
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  uint32_t b0 = c.add_backup(f, 0), b1 = c.add_backup(f, 1);
  uint32_t root = c.folders[f].root;
  uint32_t x = c.add_entry(root, "x");
  uint32_t inner = c.add_entry(x, "inner");
  c.add_version(root, test::dir_version(b0));
  c.add_version(x, test::dir_version(b0));
  c.add_version(inner, test::file_version(b0, kNone, 0));
  c.add_version(x, test::file_version(b1, kNone, 0));  // now a file
  c.build_child_index();
  EXPECT_EQ(paths_at(c, root, b0), (std::vector<std::string>{"/d", "/d/x", "/d/x/inner"}));
  EXPECT_EQ(paths_at(c, root, b1), (std::vector<std::string>{"/d", "/d/x"}));
}

TEST(Catalog, ForEachAtOfARootWithoutAVersionYieldsNothing) {
  Sample s;
  EXPECT_TRUE(paths_at(s.c, s.etc_root, s.b0).empty());  // the etc folder's first backup is b4
}

TEST(Catalog, Lookup) {
  Sample s;
  const Catalog& c = s.c;
  EXPECT_EQ(c.lookup(s.home, "/home/u"), s.root);
  EXPECT_EQ(c.lookup(s.home, "/home/u/"), s.root);
  EXPECT_EQ(c.lookup(s.home, "/home/u/docs"), s.docs);
  EXPECT_EQ(c.lookup(s.home, "/home/u/docs/a.txt"), s.a);
  EXPECT_EQ(c.lookup(s.home, "/home/u//docs///b.txt"), s.b);
  EXPECT_EQ(c.lookup(s.home, "/home/u/Alpha"), s.alpha);
  EXPECT_EQ(c.lookup(s.home, "/home/u/alpha"), std::nullopt);  // case-sensitive
  EXPECT_EQ(c.lookup(s.home, "/home/u/docs/missing"), std::nullopt);
  EXPECT_EQ(c.lookup(s.home, "/home/u/docs/a.txt/x"), std::nullopt);
  EXPECT_EQ(c.lookup(s.home, "/home/user"), std::nullopt);  // shares a prefix with the folder only
  EXPECT_EQ(c.lookup(s.home, "/home"), std::nullopt);
  EXPECT_EQ(c.lookup(s.home, "/etc"), std::nullopt);
  EXPECT_EQ(c.lookup(s.home, ""), std::nullopt);
  // Deleted entries are still known to the tree.
  EXPECT_EQ(c.lookup(s.home, "/home/u/docs/b.txt"), s.b);
  // Root folder "/".
  EXPECT_EQ(c.lookup(s.etc, "/"), s.etc_root);
  EXPECT_EQ(c.lookup(s.etc, "/etc"), s.etc_dir);
  EXPECT_EQ(c.lookup(s.etc, "/etc/passwd"), s.passwd);
  EXPECT_EQ(c.lookup(s.etc, "/etc/shadow"), std::nullopt);
}

TEST(Catalog, ContentIndexGrowsAndCollides) {
  // Many contents, added between lookups (the index grows several times), half of them with
  // the same first 8 bytes of hash (the part the slots are keyed by): all found, none invented.
  Catalog c;
  std::vector<Hash> hashes;
  for (uint32_t i = 0; i < 20000; ++i) {
    Hash h{};
    uint32_t lead = i % 2 ? 7u : i;  // odd ones collide in the key
    std::memcpy(h.data(), &lead, 4);
    std::memcpy(h.data() + 20, &i, 4);
    hashes.push_back(h);
    EXPECT_EQ(c.add_content(h, i, {}), i);
    if (i % 997 == 0) {
      for (uint32_t j = 0; j <= i; j += 101) ASSERT_EQ(c.find_content(hashes[j]), j) << i << " " << j;
    }
  }
  for (uint32_t j = 0; j < hashes.size(); ++j) ASSERT_EQ(c.find_content(hashes[j]), j);
  Hash missing{};
  missing[0] = 7;
  missing[20] = 0xff;
  missing[23] = 0xff;
  EXPECT_EQ(c.find_content(missing), std::nullopt);
}

TEST(Catalog, ContentsAreFoundByHash) {
  Catalog c;
  EXPECT_EQ(c.find_content(hash_of(1)), std::nullopt);
  uint32_t k = c.add_container("k", 1);
  uint32_t a = c.add_content(hash_of(1), 100, {test::blob(k, 16, 10), test::blob(k, 26, 20)});
  EXPECT_EQ(c.find_content(hash_of(1)), a);
  // Added after a lookup: still found (the index catches up).
  uint32_t b = c.add_content(hash_of(2), 5, {test::blob(k, 46, 5)});
  EXPECT_EQ(c.find_content(hash_of(2)), b);
  // Hashes that differ only in the last byte are different contents.
  uint32_t d = c.add_content(hash_of(1, 9), 7, {});
  EXPECT_EQ(c.find_content(hash_of(1, 9)), d);
  EXPECT_EQ(c.find_content(hash_of(1)), a);
  EXPECT_EQ(c.find_content(hash_of(1, 8)), std::nullopt);

  const Content& ca = c.contents[a];
  EXPECT_EQ(ca.hash, hash_of(1));
  EXPECT_EQ(ca.size, 100u);
  ASSERT_EQ(ca.blob_count, 2u);
  EXPECT_EQ(c.blobs[ca.first_blob].offset, 16u);
  EXPECT_EQ(c.blobs[ca.first_blob + 1].offset, 26u);
  const Content& cb = c.contents[b];
  EXPECT_EQ(cb.first_blob, 2u);
  EXPECT_EQ(cb.blob_count, 1u);
  EXPECT_EQ(c.blobs[cb.first_blob].length, 5u);
  EXPECT_EQ(c.contents[d].blob_count, 0u);
  EXPECT_EQ(c.blobs.size(), 3u);
}

TEST(Catalog, FindContentAfterCopy) {
  Sample s;
  ASSERT_EQ(s.c.find_content(hash_of(1)), s.c1);
  Catalog copy = s.c;
  uint32_t n = copy.add_content(hash_of(50), 1, {});
  EXPECT_EQ(copy.find_content(hash_of(50)), n);
  EXPECT_EQ(copy.find_content(hash_of(2)), s.c2);
  EXPECT_EQ(s.c.find_content(hash_of(50)), std::nullopt);
}

TEST(Catalog, MemoryBytesGrows) {
  Catalog c;
  size_t before = c.memory_bytes();
  uint32_t f = c.find_or_add_folder(c.find_or_add_host("h"), "/d");
  for (int i = 0; i < 1000; ++i)
    c.add_version(c.add_entry(c.folders[f].root, "name" + std::to_string(i)), test::dir_version(0));
  EXPECT_GT(c.memory_bytes(), before + 1000 * (sizeof(Entry) + sizeof(Version)));
}

}  // namespace
}  // namespace seshat::catalog
