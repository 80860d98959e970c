// VERIFY, DB REBUILD and the adoption of an interrupted backup's containers.
#include <gtest/gtest.h>

#include <random>

#include "repo_fixture.h"
#include "seshat/catalog/codec.h"
#include "seshat/repo/rebuild.h"
#include "seshat/repo/verify.h"

namespace seshat::repo {
namespace {

using test::store_files;
using test::TestRepo;

std::vector<std::pair<std::string, std::string>> some_files(int n) {
  std::vector<std::pair<std::string, std::string>> files;
  std::mt19937 rng(5);
  for (int i = 0; i < n; ++i) {
    std::string data(3000 + 100 * i, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    files.push_back({"file" + std::to_string(i), data});
  }
  return files;
}

TEST(Verify, AHealthyStoreHasNoProblems) {
  TestRepo t;
  catalog::Catalog cat = store_files(*t.repo, some_files(8), 16 << 10);
  t.repo->generations().save_whole(cat);
  VerifyResult r = verify(*t.repo, cat, {.data = true});
  EXPECT_EQ(r.problems, 0u);
  EXPECT_EQ(r.generations, 1u);
  EXPECT_EQ(r.containers, cat.containers.size());
  EXPECT_EQ(r.blobs_checked, 8u);
  EXPECT_EQ(r.blobs_read, 8u);
  EXPECT_EQ(r.unreferenced, 0u);
}

TEST(Verify, AMissingContainerNamesTheFilesInIt) {
  TestRepo t;
  catalog::Catalog cat = store_files(*t.repo, some_files(8), 16 << 10);
  ASSERT_GE(cat.containers.size(), 2u);
  t.store->remove(cat.containers[0].name);
  VerifyResult r = verify(*t.repo, cat, {});
  EXPECT_GE(r.problems, 1u);
  ASSERT_FALSE(r.damaged_files.empty());
  for (const auto& f : r.damaged_files) EXPECT_NE(f.find("/src/file"), std::string::npos) << f;
  EXPECT_LT(r.damaged_files.size(), 8u);  // only those of the missing container
}

TEST(Verify, DataModeFindsAFlippedByteAndNamesOnlyThatFile) {
  TestRepo t;
  catalog::Catalog cat = store_files(*t.repo, some_files(6));
  std::string path = t.file(cat.containers[0].name);
  std::string data = testing_support::slurp(path);
  data[cat.blobs[2].offset + 10] ^= 1;
  testing_support::spit(path, data);
  EXPECT_EQ(verify(*t.repo, cat, {}).problems, 0u);  // the index does not see inside blobs
  VerifyResult r = verify(*t.repo, cat, {.data = true});
  EXPECT_EQ(r.problems, 1u);
  ASSERT_EQ(r.damaged_files.size(), 1u);
  EXPECT_NE(r.damaged_files[0].find("/src/file2 "), std::string::npos) << r.damaged_files[0];
}

TEST(Verify, ContainersNoCatalogKnowsAreCounted) {
  TestRepo t;
  catalog::Catalog cat = store_files(*t.repo, some_files(2));
  store_files(*t.repo, some_files(3));  // another backup's containers, not in `cat`
  EXPECT_EQ(verify(*t.repo, cat, {}).unreferenced, 1u);
}

TEST(Rebuild, TheCatalogComesBackFromTheContainers) {
  TestRepo t;
  auto files = some_files(7);
  catalog::Catalog cat = store_files(*t.repo, files, 16 << 10);
  catalog::Catalog rebuilt;
  RebuildResult r = rebuild_catalog(*t.repo, rebuilt);
  EXPECT_EQ(r.containers, cat.containers.size());
  EXPECT_EQ(r.unreadable, 0u);
  EXPECT_EQ(r.backups, 1u);
  EXPECT_EQ(r.files, files.size());
  rebuilt.build_child_index();
  ASSERT_EQ(rebuilt.folders.size(), 1u);
  EXPECT_EQ(rebuilt.folders[0].path, "/src");
  EXPECT_EQ(rebuilt.hosts[0].name, "h");
  for (const auto& [name, data] : files) {
    auto e = rebuilt.lookup(0, "/src/" + name);
    ASSERT_TRUE(e.has_value()) << name;
    const catalog::Version& v = rebuilt.versions[rebuilt.entries[*e].latest];
    EXPECT_EQ(v.size, data.size());
    EXPECT_EQ(rebuilt.contents[v.content].hash, ContentHash::of(data));
  }
  EXPECT_EQ(verify(*t.repo, rebuilt, {.data = true}).problems, 0u);
}

TEST(Rebuild, AnUnreadableContainerIsSkippedWithAWarning) {
  TestRepo t;
  catalog::Catalog cat = store_files(*t.repo, some_files(4), 8 << 10);
  ASSERT_GE(cat.containers.size(), 2u);
  testing_support::spit(t.file(cat.containers[1].name), "not a container");
  catalog::Catalog rebuilt;
  RebuildResult r = rebuild_catalog(*t.repo, rebuilt);
  EXPECT_EQ(r.unreadable, 1u);
  EXPECT_LT(r.files, 4u);
  EXPECT_GT(r.files, 0u);
}

TEST(Tidy, AnInterruptedBackupsContainerIsAdoptedByContent) {
  TestRepo t;
  auto files = some_files(5);
  store_files(*t.repo, files);  // written, but no catalog refers to it
  catalog::Catalog cat;
  TidyResult r = tidy_after_interrupted(*t.repo, cat);
  EXPECT_EQ(r.containers, 1u);
  EXPECT_EQ(r.contents, files.size());
  for (const auto& [name, data] : files) EXPECT_TRUE(cat.find_content(ContentHash::of(data)).has_value()) << name;
  // Known from now on: a second tidy adopts nothing.
  EXPECT_EQ(tidy_after_interrupted(*t.repo, cat).containers, 0u);
}

}  // namespace
}  // namespace seshat::repo
