// The restore's destination calls: directories opened without following symlinks, the
// trusted resolution of a destination's root, leftovers of killed restores.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "../test_support.h"
#include "seshat/fs/fs.h"

namespace seshat::fs {
namespace {

using testing_support::TempDir;

struct stat lstat_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

int open_plain(const std::string& p) { return ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

// The device and inode of an open directory, to tell which directory a handle is.
std::pair<dev_t, ino_t> id_of_fd(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return {st.st_dev, st.st_ino};
}
std::pair<dev_t, ino_t> id_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return {st.st_dev, st.st_ino};
}

TEST(OpenDirAt, MakesAMissingDirectoryPrivately) {
  TempDir t;
  int d = open_plain(t.path());
  bool created = false;
  auto a = open_dir_at(d, "a", true, &created);
  ASSERT_TRUE(a.ok()) << a.error().what();
  EXPECT_TRUE(created);
  EXPECT_EQ(lstat_of(t / "a").st_mode & 07777, 0700u);
  auto again = open_dir_at(d, "a", true, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  auto missing = open_dir_at(d, "b", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sys_errno(), ENOENT);
  ::close(d);
}

TEST(OpenDirAt, NeverThroughASymlinkAndSaysWhatIsInTheWay) {
  TempDir t;
  testing_support::mkdirs(t / "real");
  ASSERT_EQ(::symlink((t / "real").c_str(), (t / "link").c_str()), 0);
  testing_support::spit(t / "file", "x");
  int d = open_plain(t.path());
  for (bool create : {false, true}) {
    auto l = open_dir_at(d, "link", create);
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.error().sys_errno(), ELOOP);
    EXPECT_STREQ(l.error().what(), "a symlink is in the way");
    auto f = open_dir_at(d, "file", create);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().sys_errno(), ENOTDIR);
    EXPECT_STREQ(f.error().what(), "a file is in the way");
  }
  // A dangling symlink is not replaced by a directory either.
  ASSERT_EQ(::symlink((t / "nowhere").c_str(), (t / "dangling").c_str()), 0);
  EXPECT_FALSE(open_dir_at(d, "dangling", true).ok());
  EXPECT_NE(::access((t / "nowhere").c_str(), F_OK), 0);
  for (const char* bad : {"", ".", "..", "a/b"}) EXPECT_FALSE(open_dir_at(d, bad, true).ok()) << bad;
  ::close(d);
}

TEST(OpenDirTrusted, MakesEveryMissingComponent) {
  TempDir t;
  auto d = open_dir_trusted(t / "x/y/z", true);
  ASSERT_TRUE(d.ok()) << d.error().what();
  EXPECT_EQ(id_of_fd(d->get()), id_of(t / "x/y/z"));
  EXPECT_FALSE(open_dir_trusted(t / "q/r", false).ok());
  EXPECT_FALSE(open_dir_trusted("relative/path", true).ok());
  auto root = open_dir_trusted("/", false);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(id_of_fd(root->get()), id_of("/"));
}

TEST(OpenDirTrusted, FollowsOurOwnSymlinksAbsoluteAndRelative) {
  TempDir t;
  testing_support::mkdirs(t / "data/home");
  ASSERT_EQ(::symlink((t / "data/home").c_str(), (t / "home").c_str()), 0);
  ASSERT_EQ(::symlink("../../data", (t / "data/home/up").c_str()), 0);
  auto d = open_dir_trusted(t / "home/alice", true);
  ASSERT_TRUE(d.ok()) << d.error().what();
  EXPECT_EQ(id_of_fd(d->get()), id_of(t / "data/home/alice"));
  auto up = open_dir_trusted(t / "home/up/home/alice", false);
  ASSERT_TRUE(up.ok()) << up.error().what();
  EXPECT_EQ(id_of_fd(up->get()), id_of(t / "data/home/alice"));
  // A loop ends.
  ASSERT_EQ(::symlink("loop", (t / "loop").c_str()), 0);
  auto loop = open_dir_trusted(t / "loop/x", true);
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.error().sys_errno(), ELOOP);
}

TEST(OpenDirTrusted, RefusesASymlinkOfAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a symlink another owner";
  TempDir t;
  testing_support::mkdirs(t / "victim");
  ASSERT_EQ(::chmod((t / "victim").c_str(), 0755), 0);
  testing_support::mkdirs(t / "home");
  ASSERT_EQ(::symlink((t / "victim").c_str(), (t / "home/alice").c_str()), 0);
  ASSERT_EQ(::lchown((t / "home/alice").c_str(), 1234, 1234), 0);
  auto d = open_dir_trusted(t / "home/alice/docs", true);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().sys_errno(), ELOOP);
  EXPECT_NE(std::string(d.error().what()).find("a symlink of another user (uid 1234) is in the way"), std::string::npos)
      << d.error().what();
  EXPECT_NE(::access((t / "victim/docs").c_str(), F_OK), 0);  // nothing made through it
  EXPECT_EQ(lstat_of(t / "victim").st_mode & 07777, 0755u);
}

TEST(OpenDirTrusted, PathsLongerThanPathMax) {
  TempDir t;
  std::string p = t.path();
  while (p.size() < PATH_MAX + 200) p += "/" + std::string(50, 'd');
  auto d = open_dir_trusted(p, true);
  ASSERT_TRUE(d.ok()) << d.error().what();
  auto again = open_dir_trusted(p, false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(id_of_fd(d->get()), id_of_fd(again->get()));
}

TEST(MakeSymlinkAt, ReplacesAFileOrSymlinkWithoutFollowingIt) {
  TempDir t;
  testing_support::spit(t / "target", "keep");
  ASSERT_EQ(::symlink("target", (t / "l").c_str()), 0);
  int d = open_plain(t.path());
  ASSERT_TRUE(make_symlink_at(d, "l", "elsewhere").ok());
  char buf[64];
  ssize_t n = ::readlink((t / "l").c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "elsewhere");
  EXPECT_EQ(testing_support::slurp(t / "target"), "keep");
  ::close(d);
}

// A pid that is surely gone: a child that has exited and been reaped.
pid_t gone_pid() {
  pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  int status;
  ::waitpid(p, &status, 0);
  return p;
}

TEST(RemoveRestoreLeftovers, OnlyOursOfGoneProcesses) {
  TempDir t;
  std::string dead = ".seshat-restore-" + std::to_string(gone_pid()) + "-0123456789abcdef";
  std::string live = ".seshat-restore-" + std::to_string(::getpid()) + "-0123456789abcdef";
  std::string odd = ".seshat-restore-" + std::to_string(gone_pid()) + "-notsixteenhex";
  std::string dead_link = ".seshat-restore-" + std::to_string(gone_pid()) + "-fedcba9876543210";
  for (const auto& n : {dead, live, odd}) testing_support::spit(t / n, "x");
  ASSERT_EQ(::symlink("whatever", (t / dead_link).c_str()), 0);
  testing_support::mkdirs(t / (".seshat-restore-" + std::to_string(gone_pid()) + "-aaaaaaaaaaaaaaaa"));
  int d = open_plain(t.path());
  EXPECT_EQ(remove_restore_leftovers(d), 2u);
  EXPECT_NE(::access((t / dead).c_str(), F_OK), 0);
  EXPECT_EQ(::access((t / live).c_str(), F_OK), 0);
  EXPECT_EQ(::access((t / odd).c_str(), F_OK), 0);
  if (::geteuid() == 0) {
    std::string theirs = ".seshat-restore-" + std::to_string(gone_pid()) + "-1111111111111111";
    testing_support::spit(t / theirs, "x");
    ASSERT_EQ(::chown((t / theirs).c_str(), 1234, 1234), 0);
    EXPECT_EQ(remove_restore_leftovers(d), 0u);
    EXPECT_EQ(::access((t / theirs).c_str(), F_OK), 0);
  }
  ::close(d);
}

}  // namespace
}  // namespace seshat::fs
