#include "seshat/util/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "../test_support.h"

namespace seshat {
namespace {

using testing_support::TempDir;

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AtomicFile, WriteThenRead) {
  TempDir dir;
  std::string path = dir / "file";
  write_file_atomic(path, "hello\n").throw_if_failed();
  EXPECT_EQ(testing_support::slurp(path), "hello\n");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"file"});  // no temporary left
}

TEST(AtomicFile, BinaryAndLargeContent) {
  TempDir dir;
  std::string data;
  std::mt19937 rng(3);
  for (size_t i = 0; i < (1u << 20) + 17; ++i) data.push_back(static_cast<char>(rng() & 0xff));
  data[5] = '\0';
  write_file_atomic(dir / "big", data).throw_if_failed();
  EXPECT_EQ(testing_support::slurp(dir / "big"), data);
}

TEST(AtomicFile, EmptyFile) {
  TempDir dir;
  write_file_atomic(dir / "empty", "").throw_if_failed();
  EXPECT_EQ(testing_support::slurp(dir / "empty"), "");
}

TEST(AtomicFile, ReplacesExistingContentEntirely) {
  TempDir dir;
  write_file_atomic(dir / "f", std::string(1000, 'a')).throw_if_failed();
  write_file_atomic(dir / "f", "short").throw_if_failed();
  EXPECT_EQ(testing_support::slurp(dir / "f"), "short");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"f"});
}

TEST(AtomicFile, AppliesMode) {
  TempDir dir;
  mode_t old = ::umask(022);
  write_file_atomic(dir / "private", "x").throw_if_failed();
  write_file_atomic(dir / "shared", "x", 0640).throw_if_failed();
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::stat((dir / "private").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir / "shared").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST(AtomicFile, ReadMissingFileThrowsNotFound) {
  TempDir dir;
  EXPECT_THROW_KIND(kNotFound, testing_support::slurp(dir / "missing"));
  EXPECT_THROW_KIND(kNotFound, testing_support::slurp(dir / "no/such/dir/file"));
}

TEST(AtomicFile, WriteIntoMissingDirectoryThrowsAndLeavesNothing) {
  TempDir dir;
  EXPECT_THROW_KIND(kNotFound, write_file_atomic(dir / "nodir/file", "x").throw_if_failed());
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(AtomicFile, ReadingADirectoryThrows) {
  TempDir dir;
  EXPECT_THROW(testing_support::slurp(dir.path()), Error);
}

TEST(MakeDirs, CreatesNestedAndToleratesExisting) {
  TempDir dir;
  std::string deep = dir / "a/b/c/d";
  make_dirs(deep).throw_if_failed();
  EXPECT_TRUE(std::filesystem::is_directory(deep));
  make_dirs(deep).throw_if_failed();  // again: no error
  make_dirs(dir / "a/b").throw_if_failed();
  struct stat st;
  ASSERT_EQ(::stat(deep.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0700u, 0u);  // 0700 by default (umask can only remove bits)
}

TEST(MakeDirs, ThrowsWhenAComponentIsAFile) {
  TempDir dir;
  write_file_atomic(dir / "file", "x").throw_if_failed();
  EXPECT_THROW(make_dirs(dir / "file/sub").throw_if_failed(), Error);
}

}  // namespace
}  // namespace seshat
