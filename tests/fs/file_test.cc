#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.h"
#include "seshat/fs/fs.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/io.h"

namespace seshat::fs {
namespace {

using testing_support::TempDir;

// The tests below were written against errno results; these adapters call the Result API
// of fs, io and util (the production paths) and give the error's errno, or 0.
int errno_of(const Status& st) { return st ? 0 : st.error().sys_errno(); }
int open_read_errno(const std::string& path) {
  auto fd = open_read(path);
  return fd ? fd->release() : -fd.error().sys_errno();
}
ssize_t read_full_errno(int fd, char* buf, size_t n) {
  auto r = io::read_full(fd, buf, n);
  return r ? static_cast<ssize_t>(*r) : -r.error().sys_errno();
}
int pwrite_errno(int fd, std::string_view data, uint64_t offset) { return errno_of(io::pwrite_full(fd, data, offset)); }
int make_dirs_errno(const std::string& path) { return errno_of(::seshat::make_dirs(path)); }
// The restore's calls work relative to an open directory: these open the parent of `path`.
struct InParent {
  explicit InParent(const std::string& path)
      : fd(::open(path.substr(0, path.rfind('/')).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
        name(path.substr(path.rfind('/') + 1)) {}
  ~InParent() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
  std::string name;
};
int make_symlink_errno(const std::string& target, const std::string& path) {
  InParent p(path);
  if (p.fd < 0) return errno;
  return errno_of(make_symlink_at(p.fd, p.name, target));
}
int set_metadata_errno(const std::string& path, bool is_symlink, uint32_t mode, uint32_t uid, uint32_t gid,
                       int64_t mtime_ns, bool chown) {
  int64_t sec = mtime_ns / 1000000000, nsec = mtime_ns % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --sec;
  }
  Meta m{mode, uid, gid, sec, static_cast<uint32_t>(nsec), {}};
  if (is_symlink) {
    InParent p(path);
    if (p.fd < 0) return errno;
    return errno_of(set_symlink_metadata_at(p.fd, p.name, m, chown));
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  int r = errno_of(set_metadata_fd(fd, m, chown));
  ::close(fd);
  return r;
}
// A restored file as the restore writes it: fs::create_file_at, the content, its size, commit.
int restore_file_errno(const std::string& path, uint64_t size, const std::function<int(int fd)>& fill) {
  InParent p(path);
  if (p.fd < 0) return errno;
  auto f = create_file_at(p.fd, p.name, size);
  if (!f) return f.error().sys_errno();
  if (int r = fill(f->fd())) return r;
  if (::ftruncate(f->fd(), static_cast<off_t>(size)) != 0) return errno;
  auto c = f->commit();
  return c ? 0 : c.error().sys_errno();
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_fd(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read_full_errno(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// Removes a tree by descriptors, so paths longer than PATH_MAX can be removed too.
void remove_tree_at(int dirfd, const std::string& name) {
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    DIR* d = ::fdopendir(fd);
    std::vector<std::string> kids;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") kids.push_back(n);
    }
    for (const auto& k : kids) {
      if (::unlinkat(fd, k.c_str(), 0) != 0) remove_tree_at(fd, k);
    }
    ::closedir(d);
  }
  ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR);
}

TEST(OpenRead, ReadsAFile) {
  TempDir t;
  testing_support::spit(t / "f", "content");
  int fd = open_read_errno(t / "f");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_fd(fd), "content");
  ::close(fd);
}

TEST(OpenRead, ErrorsAreNegativeErrno) {
  TempDir t;
  testing_support::spit(t / "target", "x");
  ASSERT_EQ(::symlink("target", (t / "link").c_str()), 0);
  EXPECT_EQ(open_read_errno(t / "missing"), -ENOENT);
  EXPECT_EQ(open_read_errno(t / "link"), -ELOOP);  // never follows a final symlink
}

// SET SYMLINKS YES: a final symlink is followed, but only to a regular file -- a FIFO (or a
// device) it points to by the time the file is packed is never opened for reading (which
// would block, or run a driver's open).
TEST(OpenRead, FollowsAFinalSymlinkOnlyToARegularFile) {
  TempDir t;
  testing_support::spit(t / "target", "x");
  ASSERT_EQ(::symlink("target", (t / "link").c_str()), 0);
  auto fd = open_read(t / "link", true);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(read_fd(fd->get()), "x");
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("fifo", (t / "to_fifo").c_str()), 0);
  auto f = open_read(t / "to_fifo", true);  // would block forever if opened for reading
  EXPECT_FALSE(f.ok());
  ASSERT_EQ(::symlink("/dev/null", (t / "to_dev").c_str()), 0);
  EXPECT_FALSE(open_read(t / "to_dev", true).ok());
}

// Without SET SYMLINKS YES too: a name the walk saw as a regular file and that is a FIFO or a
// device by the time it is packed is never opened for reading.
TEST(OpenRead, NeverOpensAFifoOrDeviceForReading) {
  TempDir t;
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  auto f = open_read(t / "fifo");  // would block forever if opened for reading
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().sys_errno(), EINVAL);
  EXPECT_FALSE(open_read("/dev/null").ok());
  testing_support::spit(t / "file", "y");
  auto fd = open_read(t / "file");
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(read_fd(fd->get()), "y");
}

class LongPath : public ::testing::Test {
 protected:
  void SetUp() override {
    int fd = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    path = tmp.path();
    std::string comp(200, 'd');
    for (int i = 0; path.size() < 5000; ++i) {
      std::string name = comp + std::to_string(i);
      ASSERT_EQ(::mkdirat(fd, name.c_str(), 0700), 0);
      int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
      ASSERT_GE(next, 0);
      ::close(fd);
      fd = next;
      path += "/" + name;
      depth_names.push_back(name);
    }
    ASSERT_GT(path.size(), static_cast<size_t>(PATH_MAX));
    int f = ::openat(fd, "file", O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(f, 0);
    ASSERT_EQ(::write(f, "deep content", 12), 12);
    ::close(f);
    ASSERT_EQ(::symlinkat("file", fd, "link"), 0);
    ::close(fd);
  }
  void TearDown() override {
    int fd = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0 && !depth_names.empty()) remove_tree_at(fd, depth_names[0]);
    if (fd >= 0) ::close(fd);
  }
  TempDir tmp;
  std::string path;  // the deepest directory
  std::vector<std::string> depth_names;
};

TEST_F(LongPath, OpenReadWorksPastPathMax) {
  std::string file = path + "/file";
  ASSERT_GT(file.size(), 4096u);
  int fd = open_read_errno(file);
  ASSERT_GE(fd, 0) << "errno " << -fd;
  EXPECT_EQ(read_fd(fd), "deep content");
  ::close(fd);
}

TEST_F(LongPath, OpenReadLongPathErrors) {
  EXPECT_EQ(open_read_errno(path + "/missing"), -ENOENT);
  EXPECT_EQ(open_read_errno(path + "/link"), -ELOOP);
  std::string broken = path;
  broken.replace(broken.rfind('/') + 1, 3, "xyz");  // a missing middle directory
  EXPECT_EQ(open_read_errno(broken + "/file"), -ENOENT);
  EXPECT_EQ(open_read_errno(path + "/file/below"), -ENOTDIR);
}

TEST_F(LongPath, OpenReadToleratesDoubledSlashes) {
  std::string file = path + "//file";
  int fd = open_read_errno(file);
  ASSERT_GE(fd, 0) << "errno " << -fd;
  EXPECT_EQ(read_fd(fd), "deep content");
  ::close(fd);
}

TEST(ReadFull, ReadsAcrossShortReads) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] {
    for (size_t off = 0; off < data.size(); off += 777) {
      size_t n = std::min<size_t>(777, data.size() - off);
      ASSERT_EQ(::write(p[1], data.data() + off, n), static_cast<ssize_t>(n));
    }
    ::close(p[1]);
  });
  std::string got(60000, '\0');
  EXPECT_EQ(read_full_errno(p[0], got.data(), got.size()), 60000);
  EXPECT_EQ(got, data.substr(0, 60000));
  std::string rest(60000, '\0');
  EXPECT_EQ(read_full_errno(p[0], rest.data(), rest.size()), 40000);  // short only at end of file
  EXPECT_EQ(rest.substr(0, 40000), data.substr(60000));
  EXPECT_EQ(read_full_errno(p[0], rest.data(), rest.size()), 0);
  writer.join();
  ::close(p[0]);
  EXPECT_EQ(read_full_errno(-1, rest.data(), 1), -EBADF);
}

TEST(MakeDirs, NestedExistingAndThroughAFile) {
  TempDir t;
  EXPECT_EQ(make_dirs_errno(t / "a/b/c"), 0);
  EXPECT_TRUE(S_ISDIR(stat_of(t / "a/b/c").st_mode));
  EXPECT_EQ(stat_of(t / "a/b").st_mode & 0777, 0700u);
  EXPECT_EQ(make_dirs_errno(t / "a/b/c"), 0);
  EXPECT_EQ(make_dirs_errno(t / "a"), 0);
  testing_support::spit(t / "file", "x");
  EXPECT_EQ(make_dirs_errno(t / "file"), ENOTDIR);
  EXPECT_EQ(make_dirs_errno(t / "file/sub"), ENOTDIR);
  EXPECT_EQ(make_dirs_errno(""), 0);
}

TEST(WriteFileAtomic, WritesContentAndSize) {
  TempDir t;
  std::string path = t / "out";
  int r = restore_file_errno(path, 11, [](int fd) { return pwrite_errno(fd, "hello world", 0); });
  EXPECT_EQ(r, 0);
  EXPECT_EQ(testing_support::slurp(path), "hello world");
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"out"});
}

TEST(WriteFileAtomic, FileHasExactlyTheGivenSize) {
  TempDir t;
  // Fill writes less than size (a sparse tail) ...
  EXPECT_EQ(restore_file_errno(t / "sparse", 10, [](int fd) { return pwrite_errno(fd, "ab", 0); }), 0);
  EXPECT_EQ(testing_support::slurp(t / "sparse"), std::string("ab") + std::string(8, '\0'));
  // ... or more.
  EXPECT_EQ(restore_file_errno(t / "cut", 3, [](int fd) { return pwrite_errno(fd, "abcdef", 0); }), 0);
  EXPECT_EQ(testing_support::slurp(t / "cut"), "abc");
  // Out of order writes at offsets.
  EXPECT_EQ(restore_file_errno(t / "parts", 6,
                               [](int fd) {
                                 int r = pwrite_errno(fd, "def", 3);
                                 return r ? r : pwrite_errno(fd, "abc", 0);
                               }),
            0);
  EXPECT_EQ(testing_support::slurp(t / "parts"), "abcdef");
  EXPECT_EQ(restore_file_errno(t / "empty", 0, [](int) { return 0; }), 0);
  EXPECT_EQ(testing_support::slurp(t / "empty"), "");
}

TEST(WriteFileAtomic, ReplacesAnExistingFile) {
  TempDir t;
  testing_support::spit(t / "f", std::string(100, 'o'));
  EXPECT_EQ(restore_file_errno(t / "f", 3, [](int fd) { return pwrite_errno(fd, "new", 0); }), 0);
  EXPECT_EQ(testing_support::slurp(t / "f"), "new");
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"f"});
}

TEST(WriteFileAtomic, FailedFillLeavesNoTempAndKeepsTheOldFile) {
  TempDir t;
  testing_support::spit(t / "keep", "old");
  int r = restore_file_errno(t / "keep", 100, [](int fd) {
    pwrite_errno(fd, "partial", 0);
    return EIO;
  });
  EXPECT_EQ(r, EIO);
  EXPECT_EQ(testing_support::slurp(t / "keep"), "old");
  r = restore_file_errno(t / "new", 100, [](int) { return ENOSPC; });
  EXPECT_EQ(r, ENOSPC);
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"keep"});
}

TEST(WriteFileAtomic, MissingDirectoryIsAnError) {
  TempDir t;
  bool called = false;
  int r = restore_file_errno(t / "no/such/file", 1, [&](int) {
    called = true;
    return 0;
  });
  EXPECT_EQ(r, ENOENT);
  EXPECT_FALSE(called);
}

TEST(WriteFileAtomic, RenameOntoADirectoryFailsCleanly) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "d").c_str(), 0700), 0);
  testing_support::spit(t / "d/inside", "x");
  int r = restore_file_errno(t / "d", 1, [](int fd) { return pwrite_errno(fd, "x", 0); });
  EXPECT_NE(r, 0);
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"d"});
}

TEST(MakeSymlink, CreatesAndReplaces) {
  TempDir t;
  char buf[256];
  EXPECT_EQ(make_symlink_errno("target1", t / "l"), 0);
  ssize_t n = ::readlink((t / "l").c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "target1");
  // Replaces an existing symlink.
  EXPECT_EQ(make_symlink_errno("target2", t / "l"), 0);
  n = ::readlink((t / "l").c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "target2");
  // Replaces an existing file (and does not write through it).
  testing_support::spit(t / "f", "file data");
  testing_support::spit(t / "other", "other data");
  EXPECT_EQ(make_symlink_errno("other", t / "f"), 0);
  EXPECT_TRUE(S_ISLNK(stat_of(t / "f").st_mode));
  EXPECT_EQ(testing_support::slurp(t / "f"), "other data");
  EXPECT_EQ(testing_support::slurp(t / "other"), "other data");
  EXPECT_EQ(names_in(t.path()), (std::vector<std::string>{"f", "l", "other"}));
}

TEST(MakeSymlink, OverADirectoryFailsAndLeavesNoTemp) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "d").c_str(), 0700), 0);
  testing_support::spit(t / "d/x", "x");
  EXPECT_NE(make_symlink_errno("target", t / "d"), 0);
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"d"});
  EXPECT_EQ(make_symlink_errno("target", t / "missing/l"), ENOENT);
}

TEST(SetMetadata, ModeAndNanosecondMtime) {
  TempDir t;
  testing_support::spit(t / "f", "x");
  EXPECT_EQ(set_metadata_errno(t / "f", false, 0640, 0, 0, 1564150070123456789LL, false), 0);
  struct stat st = stat_of(t / "f");
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1564150070);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(set_metadata_errno(t / "f", false, 0444, 0, 0, 0, false), 0);
  st = stat_of(t / "f");
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_mtim.tv_sec, 0);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
}

TEST(SetMetadata, MtimeBeforeTheEpoch) {
  TempDir t;
  testing_support::spit(t / "f", "x");
  EXPECT_EQ(set_metadata_errno(t / "f", false, 0600, 0, 0, -1500000000LL, false), 0);
  struct stat st = stat_of(t / "f");
  EXPECT_EQ(st.st_mtim.tv_sec, -2);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500000000);
}

TEST(SetMetadata, DirectoryAndSpecialBits) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "d").c_str(), 0700), 0);
  EXPECT_EQ(set_metadata_errno(t / "d", false, 01755, 0, 0, 42000000001LL, false), 0);
  struct stat st = stat_of(t / "d");
  EXPECT_EQ(st.st_mode & 07777, 01755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 42);
  EXPECT_EQ(st.st_mtim.tv_nsec, 1);
}

TEST(SetMetadata, SymlinkItselfNotItsTarget) {
  TempDir t;
  testing_support::spit(t / "target", "x", 0600);
  ASSERT_EQ(::chmod((t / "target").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("target", (t / "l").c_str()), 0);
  struct stat before = stat_of(t / "target");
  EXPECT_EQ(set_metadata_errno(t / "l", true, 0777, 0, 0, 1000000000LL * 1000 + 5, false), 0);
  struct stat link = stat_of(t / "l");
  EXPECT_EQ(link.st_mtim.tv_sec, 1000);
  EXPECT_EQ(link.st_mtim.tv_nsec, 5);
  struct stat after = stat_of(t / "target");
  EXPECT_EQ(after.st_mode & 07777, 0600u);  // chmod did not follow the link
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

TEST(SetMetadata, Ownership) {
  TempDir t;
  testing_support::spit(t / "f", "x");
  if (::geteuid() != 0) {
    // Without privileges, chown to ourselves works.
    EXPECT_EQ(set_metadata_errno(t / "f", false, 0600, ::getuid(), ::getgid(), 0, true), 0);
    EXPECT_EQ(stat_of(t / "f").st_uid, ::getuid());
    return;
  }
  int r = set_metadata_errno(t / "f", false, 04755, 1234, 5678, 0, true);
  if (r == EINVAL) GTEST_SKIP() << "uid 1234 is not mapped in this user namespace";
  EXPECT_EQ(r, 0);
  struct stat st = stat_of(t / "f");
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // chmod after chown keeps set-uid
  // Without chown the owner stays.
  EXPECT_EQ(set_metadata_errno(t / "f", false, 0600, 1, 1, 0, false), 0);
  EXPECT_EQ(stat_of(t / "f").st_uid, 1234u);
  // A symlink's own owner.
  ASSERT_EQ(::symlink("f", (t / "l").c_str()), 0);
  EXPECT_EQ(set_metadata_errno(t / "l", true, 0777, 42, 43, 0, true), 0);
  EXPECT_EQ(stat_of(t / "l").st_uid, 42u);
  EXPECT_EQ(stat_of(t / "f").st_uid, 1234u);
}

TEST(SetMetadata, MissingPath) {
  TempDir t;
  EXPECT_EQ(set_metadata_errno(t / "missing", false, 0600, 0, 0, 0, false), ENOENT);
}

TEST(PwriteFull, WritesAtOffsetsAndReportsErrors) {
  TempDir t;
  int fd = ::open((t / "f").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(pwrite_errno(fd, "world", 6), 0);
  EXPECT_EQ(pwrite_errno(fd, "hello ", 0), 0);
  EXPECT_EQ(pwrite_errno(fd, "", 100), 0);
  ::close(fd);
  EXPECT_EQ(testing_support::slurp(t / "f"), "hello world");
  EXPECT_EQ(pwrite_errno(-1, "x", 0), EBADF);
}

}  // namespace
}  // namespace seshat::fs
