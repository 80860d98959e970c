// LocalStorage details beyond the shared contract: the root, files on disk, temp files.
#include "seshat/storage/local_storage.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../test_support.h"
#include "seshat/storage/fault_storage.h"
#include "seshat/storage/storage.h"
#include "seshat/storage/wrappers.h"
#include "seshat/util/atomic_file.h"

namespace seshat::storage {
namespace {

using testing_support::TempDir;

std::vector<std::string> files_under(const std::string& root) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(root)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (!e.is_directory()) out.push_back(std::filesystem::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(LocalStorage, RootMustBeAbsolute) {
  EXPECT_THROW_KIND(kInvalidInput, LocalStorage("relative/dir"));
  EXPECT_THROW_KIND(kInvalidInput, LocalStorage(""));
}

TEST(LocalStorage, TrailingSlashesOnTheRootAreDropped) {
  TempDir dir;
  LocalStorage s(dir.path() + "///");
  EXPECT_EQ(s.root(), dir.path());
  EXPECT_EQ(s.describe(), "LOCAL " + dir.path());
  s.put("a/b", "x");
  EXPECT_EQ(testing_support::slurp(dir / "a/b"), "x");
}

TEST(LocalStorage, MissingRootIsAnEmptyStoreAndIsCreatedOnWrite) {
  TempDir dir;
  LocalStorage s(dir / "not/yet/there");
  EXPECT_TRUE(s.list("").empty());
  EXPECT_EQ(s.head("x"), std::nullopt);
  s.put("x", "1");
  EXPECT_EQ(testing_support::slurp(dir / "not/yet/there/x"), "1");
}

TEST(LocalStorage, ObjectsAreFilesUnderTheRoot) {
  TempDir dir;
  LocalStorage s(dir.path());
  s.put("containers/SEF_1", "abc");
  EXPECT_TRUE(s.put_if_absent("db/0001", "d"));
  EXPECT_FALSE(s.put_if_absent("db/0001", "e"));
  auto w = s.create("containers/SEF_2", ObjectClass::kMetadata);
  w->write("zz");
  w->commit();
  // No temporary files are left next to the objects.
  EXPECT_EQ(files_under(dir.path()), (std::vector<std::string>{"containers/SEF_1", "containers/SEF_2", "db/0001"}));
}

TEST(LocalStorage, UncommittedWriterIsATempFileThatListSkips) {
  TempDir dir;
  LocalStorage s(dir.path());
  auto w = s.create("c/obj", ObjectClass::kMetadata);
  w->write(std::string(100, 'x'));
  // Whatever the writer keeps on disk meanwhile must not be listed as an object.
  EXPECT_TRUE(s.list("").empty());
  EXPECT_TRUE(s.list("c/").empty());
  w->abort();
  EXPECT_TRUE(files_under(dir.path()).empty());
}

TEST(LocalStorage, ListSkipsStrayTempFilesFromACrash) {
  TempDir dir;
  LocalStorage s(dir.path());
  s.put("db/0001", "x");
  testing_support::mkdirs(dir / "db");
  testing_support::spit(dir / "db/.seshat-tmp-123-4", "left over");
  testing_support::spit(dir / ".seshat-tmp-999-1", "left over");
  EXPECT_EQ(s.list("").size(), 1u);
  ASSERT_EQ(s.list("db/").size(), 1u);
  EXPECT_EQ(s.list("db/")[0].name, "db/0001");
}

TEST(LocalStorage, ListSkipsSymlinksAndSpecialFiles) {
  TempDir dir;
  LocalStorage s(dir.path());
  s.put("real", "x");
  ASSERT_EQ(::symlink("real", (dir / "link").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  auto l = s.list("");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].name, "real");
}

TEST(LocalStorage, TempNamesCannotBeObjectNames) {
  TempDir dir;
  LocalStorage s(dir.path());
  EXPECT_THROW_KIND(kInvalidInput, s.put(".seshat-tmp-1-1", "x"));
  EXPECT_THROW_KIND(kInvalidInput, s.put("a/.seshat-tmp-foo", "x"));
}

TEST(CheckObjectName, AcceptsOrdinaryNames) {
  for (const char* ok : {"a", "keyfile", "db/00000001", "containers/SEF_host_home_20190726140750_000", ".hidden",
                         "a/.b", "..x", "x..", "a/b/c/d/e", "with space", "x.tmp"}) {
    EXPECT_NO_THROW(check_object_name(ok)) << ok;
  }
}

TEST(CheckObjectName, RejectsBadNames) {
  for (const std::string& bad : std::vector<std::string>{"", "/", "/a", "a/", "a//b", ".", "..", "../a", "a/..",
                                                         "a/./b", ".seshat-tmp", std::string("a\0b", 3)}) {
    EXPECT_THROW_KIND(kInvalidInput, check_object_name(bad)) << "'" << bad << "'";
  }
}

// Root reads every file, so as root the check runs in a child that has dropped to nobody.
TEST(LocalStorage, UnreadableObjectIsNotReportedAsMissing) {
  TempDir dir;
  LocalStorage s(dir.path());
  s.put("secret", "x");
  ASSERT_EQ(::chmod((dir / "secret").c_str(), 0), 0);
  auto check = [&]() -> std::string {
    try {
      s.get("secret");
      return "read an unreadable file";
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) return std::string("reported as missing: ") + e.what();
    }
    try {
      s.get_range("secret", 0, 1);
      return "read a range of an unreadable file";
    } catch (const Error&) {
    }
    return "";
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(check(), "");
    return;
  }
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    std::string problem = ::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0
                              ? check()
                              : std::string("cannot drop to nobody");
    (void)!::write(pipefd[1], problem.data(), problem.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string problem;
  char buf[256];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) problem.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(problem, "");
}

}  // namespace
}  // namespace seshat::storage
