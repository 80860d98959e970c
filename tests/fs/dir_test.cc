#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "../test_support.h"
#include "seshat/fs/fs.h"
#include "seshat/util/atomic_file.h"

namespace seshat::fs {
namespace {

using testing_support::TempDir;

// The tests below were written against errno out-parameters; these adapters read the
// Result API the same way (the error's errno, or 0).
template <typename T>
std::optional<T> get(Result<T> r, int& err) {
  err = r ? 0 : r.error().sys_errno();
  if (!r) return std::nullopt;
  return std::move(r).value();
}
Dir open_dir(const std::string& path, int& err) { return get(Dir::open(path), err).value_or(Dir()); }
Dir child_of(const Dir& d, const std::string& name, bool follow, int& err) {
  return get(d.open_child(name, follow), err).value_or(Dir());
}
std::vector<std::string> list_of(const Dir& d, int& err) {
  return get(d.list(), err).value_or(std::vector<std::string>{});
}
std::optional<Stat> stat_of(const Dir& d, const std::string& name, bool follow, int& err) {
  return get(d.stat_child(name, follow), err);
}
std::optional<std::string> link_of(const Dir& d, const std::string& name, int& err) {
  return get(d.read_link(name), err);
}
std::optional<Stat> self_of(const Dir& d, int& err) { return get(d.stat_self(), err); }

void touch(const std::string& path, const std::string& data = "") { testing_support::spit(path, data, 0644); }

Dir open_dir(const std::string& path) {
  int err = -1;
  Dir d = open_dir(path, err);
  EXPECT_EQ(err, 0) << path;
  EXPECT_TRUE(d.valid());
  return d;
}

TEST(Dir, OpenMissingOrNotADirectory) {
  TempDir t;
  touch(t / "file");
  int err = 0;
  Dir d = open_dir(t / "missing", err);
  EXPECT_FALSE(d.valid());
  EXPECT_EQ(err, ENOENT);
  Dir f = open_dir(t / "file", err);
  EXPECT_FALSE(f.valid());
  EXPECT_EQ(err, ENOTDIR);
}

TEST(Dir, MoveTransfersOwnership) {
  TempDir t;
  Dir a = open_dir(t.path());
  int fd = a.fd();
  Dir b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.fd(), fd);
  Dir c;
  EXPECT_FALSE(c.valid());
  c = std::move(b);
  EXPECT_EQ(c.fd(), fd);
  EXPECT_FALSE(b.valid());
  EXPECT_NE(::fcntl(fd, F_GETFD), -1);  // still open
}

TEST(Dir, DestructorClosesTheDescriptor) {
  TempDir t;
  int fd;
  {
    Dir d = open_dir(t.path());
    fd = d.fd();
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(Dir, ListIsSortedBytewiseWithoutDotEntries) {
  TempDir t;
  for (const char* n : {"b", "a", "B", ".hidden", "..double", "\xc3\xa9", "a b", "_x", "10", "9"}) touch(t / n);
  ASSERT_EQ(::mkdir((t / "subdir").c_str(), 0700), 0);
  ASSERT_EQ(::symlink("nowhere", (t / "link").c_str()), 0);
  Dir d = open_dir(t.path());
  int err = -1;
  auto names = list_of(d, err);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(names, (std::vector<std::string>{"..double", ".hidden", "10", "9", "B", "_x", "a", "a b", "b", "link",
                                             "subdir", "\xc3\xa9"}));
}

TEST(Dir, ListTwiceAndEmpty) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "empty").c_str(), 0700), 0);
  touch(t / "x");
  Dir d = open_dir(t.path());
  int err = -1;
  auto first = list_of(d, err);
  auto second = list_of(d, err);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first, (std::vector<std::string>{"empty", "x"}));
  Dir e = open_dir(t / "empty");
  EXPECT_TRUE(list_of(e, err).empty());
  EXPECT_EQ(err, 0);
}

TEST(Dir, ListManyEntries) {
  TempDir t;
  for (int i = 0; i < 500; ++i) touch(t / ("f" + std::to_string(i)));
  Dir d = open_dir(t.path());
  int err = -1;
  auto names = list_of(d, err);
  EXPECT_EQ(names.size(), 500u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(Dir, StatChildKinds) {
  TempDir t;
  touch(t / "file", "12345");
  ASSERT_EQ(::chmod((t / "file").c_str(), 0640), 0);
  ASSERT_EQ(::mkdir((t / "dir").c_str(), 0711), 0);
  ASSERT_EQ(::chmod((t / "dir").c_str(), 0711), 0);
  ASSERT_EQ(::symlink("file", (t / "link").c_str()), 0);
  ASSERT_EQ(::symlink("missing", (t / "dangling").c_str()), 0);
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  Dir d = open_dir(t.path());
  int err = -1;

  auto f = stat_of(d, "file", false, err);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(err, 0);
  EXPECT_EQ(f->kind, Kind::kFile);
  EXPECT_EQ(f->size, 5u);
  EXPECT_EQ(f->mode, 0640u);
  EXPECT_EQ(f->uid, ::geteuid());
  EXPECT_NE(f->inode, 0u);

  auto dir = stat_of(d, "dir", false, err);
  ASSERT_TRUE(dir.has_value());
  EXPECT_EQ(dir->kind, Kind::kDir);
  EXPECT_EQ(dir->mode, 0711u);

  auto l = stat_of(d, "link", false, err);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->kind, Kind::kSymlink);
  EXPECT_EQ(l->size, 4u);  // the target's length
  auto lf = stat_of(d, "link", true, err);
  ASSERT_TRUE(lf.has_value());
  EXPECT_EQ(lf->kind, Kind::kFile);
  EXPECT_EQ(lf->inode, f->inode);

  auto dang = stat_of(d, "dangling", false, err);
  ASSERT_TRUE(dang.has_value());
  EXPECT_EQ(dang->kind, Kind::kSymlink);
  EXPECT_FALSE(stat_of(d, "dangling", true, err).has_value());
  EXPECT_EQ(err, ENOENT);

  auto fifo = stat_of(d, "fifo", false, err);
  ASSERT_TRUE(fifo.has_value());
  EXPECT_EQ(fifo->kind, Kind::kOther);
  EXPECT_STREQ(fifo->other_name, "FIFO");

  EXPECT_FALSE(stat_of(d, "missing", false, err).has_value());
  EXPECT_EQ(err, ENOENT);
}

TEST(Dir, StatChildSocket) {
  TempDir t;
  std::string path = t / "sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) GTEST_SKIP() << "temp path too long for a socket";
  std::strcpy(addr.sun_path, path.c_str());
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  Dir d = open_dir(t.path());
  int err = -1;
  auto st = stat_of(d, "sock", false, err);
  ::close(s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->kind, Kind::kOther);
  EXPECT_STREQ(st->other_name, "socket");
}

TEST(Dir, StatChildNanosecondTimes) {
  TempDir t;
  touch(t / "f");
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1564150070, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (t / "f").c_str(), ts, 0), 0);
  Dir d = open_dir(t.path());
  int err;
  auto st = stat_of(d, "f", false, err);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->mtime_ns, 1564150070123456789LL);
  EXPECT_GT(st->ctime_ns, 1564150070123456789LL);
}

TEST(Dir, StatSelf) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "d").c_str(), 0750), 0);
  ASSERT_EQ(::chmod((t / "d").c_str(), 0750), 0);
  Dir d = open_dir(t / "d");
  int err = -1;
  auto st = self_of(d, err);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->kind, Kind::kDir);
  EXPECT_EQ(st->mode, 0750u);
  struct stat raw;
  ASSERT_EQ(::stat((t / "d").c_str(), &raw), 0);
  EXPECT_EQ(st->inode, raw.st_ino);
  EXPECT_EQ(st->dev, raw.st_dev);
}

TEST(Dir, OpenChild) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "sub").c_str(), 0700), 0);
  touch(t / "sub/inner");
  touch(t / "file");
  ASSERT_EQ(::symlink("sub", (t / "link").c_str()), 0);
  Dir d = open_dir(t.path());
  int err = -1;
  Dir sub = child_of(d, "sub", false, err);
  ASSERT_TRUE(sub.valid());
  EXPECT_EQ(err, 0);
  EXPECT_EQ(list_of(sub, err), std::vector<std::string>{"inner"});
  Dir nolink = child_of(d, "link", false, err);
  EXPECT_FALSE(nolink.valid());
  EXPECT_NE(err, 0);
  Dir viaLink = child_of(d, "link", true, err);
  EXPECT_TRUE(viaLink.valid());
  Dir file = child_of(d, "file", false, err);
  EXPECT_FALSE(file.valid());
  EXPECT_EQ(err, ENOTDIR);
  Dir missing = child_of(d, "missing", false, err);
  EXPECT_FALSE(missing.valid());
  EXPECT_EQ(err, ENOENT);
}

TEST(Dir, ReadLink) {
  TempDir t;
  ASSERT_EQ(::symlink("target/path", (t / "short").c_str()), 0);
  std::string t255(255, 'a'), t256(256, 'b'), t300(300, 'c'), t1000(1000, 'd');
  ASSERT_EQ(::symlink(t255.c_str(), (t / "l255").c_str()), 0);
  ASSERT_EQ(::symlink(t256.c_str(), (t / "l256").c_str()), 0);
  ASSERT_EQ(::symlink(t300.c_str(), (t / "l300").c_str()), 0);
  ASSERT_EQ(::symlink(t1000.c_str(), (t / "l1000").c_str()), 0);
  touch(t / "file");
  Dir d = open_dir(t.path());
  int err = -1;
  EXPECT_EQ(link_of(d, "short", err), "target/path");
  EXPECT_EQ(err, 0);
  EXPECT_EQ(link_of(d, "l255", err), t255);
  EXPECT_EQ(link_of(d, "l256", err), t256);
  EXPECT_EQ(link_of(d, "l300", err), t300);
  EXPECT_EQ(link_of(d, "l1000", err), t1000);
  EXPECT_FALSE(link_of(d, "file", err).has_value());
  EXPECT_EQ(err, EINVAL);
  EXPECT_FALSE(link_of(d, "missing", err).has_value());
  EXPECT_EQ(err, ENOENT);
}

TEST(FromStat, KindsAndPermissionBits) {
  struct stat st {};
  st.st_mode = S_IFCHR | 06755;
  st.st_size = 3;
  st.st_mtim = {5, 6};
  st.st_ctim = {-2, 500000000};
  Stat s = from_stat(st);
  EXPECT_EQ(s.kind, Kind::kOther);
  EXPECT_STREQ(s.other_name, "device");
  EXPECT_EQ(s.mode, 06755u);
  EXPECT_EQ(s.mtime_ns, 5000000006LL);
  EXPECT_EQ(s.ctime_ns, -1500000000LL);
  st.st_mode = S_IFBLK | 0600;
  EXPECT_STREQ(from_stat(st).other_name, "device");
  st.st_mode = S_IFREG | 01777;
  EXPECT_EQ(from_stat(st).kind, Kind::kFile);
  EXPECT_EQ(from_stat(st).mode, 01777u);
}

}  // namespace
}  // namespace seshat::fs
