// Helpers shared by the unit tests (header-only; each module's test binary includes it).
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <filesystem>
#include <functional>
#include <string>

#include "seshat/util/atomic_file.h"
#include "seshat/util/error.h"

namespace seshat::testing_support {

// The util file helpers for tests, throwing on failure.
inline std::string slurp(const std::string& path) { return ::seshat::read_file(path).take(); }
inline void spit(const std::string& path, std::string_view data, mode_t mode = 0600) {
  ::seshat::write_file_atomic(path, data, mode).throw_if_failed();
}
inline void mkdirs(const std::string& path) { ::seshat::make_dirs(path).throw_if_failed(); }

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/seshat-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    // Make everything writable first, in case a test removed permissions.
    for (auto it = std::filesystem::recursive_directory_iterator(
             path_, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec))
        std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all, std::filesystem::perm_options::add,
                                     ec);
    }
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Sets TZ for the lifetime of the object (and calls tzset), restoring it afterwards.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old, had_ = true;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (had_)
      ::setenv("TZ", old_.c_str(), 1);
    else
      ::unsetenv("TZ");
    ::tzset();
  }

 private:
  std::string old_;
  bool had_ = false;
};

// Runs fn, which must throw seshat::Error; returns its kind (fails the test otherwise).
inline ::testing::AssertionResult ThrowsKind(const std::function<void()>& fn, ErrorKind kind) {
  try {
    fn();
  } catch (const Error& e) {
    if (e.kind() == kind) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "threw seshat::Error of kind '" << error_kind_name(e.kind()) << "' ("
                                         << e.what() << "), expected '" << error_kind_name(kind) << "'";
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-seshat exception: " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "threw something that is not a std::exception";
  }
  return ::testing::AssertionFailure() << "did not throw (expected seshat::Error '" << error_kind_name(kind) << "')";
}

// Runs fn; succeeds if it returns normally or throws seshat::Error (any kind). Anything else
// (another exception type) fails. Crashes are caught by the test runner itself.
inline ::testing::AssertionResult OnlySeshatErrors(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-seshat exception: " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "threw something that is not a std::exception";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace seshat::testing_support

// EXPECT_THROW_KIND(kCorruption, statement): the statement throws seshat::Error of that kind.
#define EXPECT_THROW_KIND(kind, ...) \
  EXPECT_TRUE(::seshat::testing_support::ThrowsKind([&] { __VA_ARGS__; }, ::seshat::ErrorKind::kind))
#define ASSERT_THROW_KIND(kind, ...) \
  ASSERT_TRUE(::seshat::testing_support::ThrowsKind([&] { __VA_ARGS__; }, ::seshat::ErrorKind::kind))
