#include <gtest/gtest.h>

#include <cerrno>
#include <regex>
#include <set>
#include <string>

#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat {
namespace {

TEST(Error, KindAndMessage) {
  Error e(ErrorKind::kLocked, "busy");
  EXPECT_EQ(e.kind(), ErrorKind::kLocked);
  EXPECT_STREQ(e.what(), "busy");
}

TEST(Error, KindNamesAreDistinct) {
  const ErrorKind kinds[] = {ErrorKind::kNotFound,  ErrorKind::kCorruption,   ErrorKind::kTransient,
                             ErrorKind::kPermanent, ErrorKind::kInvalidInput, ErrorKind::kLocked};
  std::set<std::string> names;
  for (ErrorKind k : kinds) names.insert(error_kind_name(k));
  EXPECT_EQ(names.size(), 6u);
  EXPECT_STREQ(error_kind_name(ErrorKind::kNotFound), "not found");
}

TEST(Error, KindFromErrno) {
  EXPECT_EQ(kind_from_errno(ENOENT), ErrorKind::kNotFound);
  EXPECT_EQ(kind_from_errno(ENOTDIR), ErrorKind::kNotFound);
  EXPECT_EQ(kind_from_errno(EAGAIN), ErrorKind::kTransient);
  EXPECT_EQ(kind_from_errno(EINTR), ErrorKind::kTransient);
  EXPECT_EQ(kind_from_errno(EACCES), ErrorKind::kPermanent);
  EXPECT_EQ(kind_from_errno(ENOSPC), ErrorKind::kPermanent);
}

TEST(Error, ThrowErrnoAppendsTheReason) {
  try {
    throw_errno(ErrorKind::kPermanent, "cannot open x", ENOENT);
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kPermanent);
    EXPECT_EQ(std::string(e.what()), "cannot open x: No such file or directory");
  }
}

TEST(Log, InfoLineShapeAndCounters) {
  long warns = log::warn_count();
  long errors = log::error_count();
  ::testing::internal::CaptureStdout();
  log::info("Initializing {} {}", "SESHAT", 42);
  log::warn("careful");
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(^\d\d:\d\d:\d\d\.\d\d\d INFO - Initializing SESHAT 42\n)"))) << out;
  EXPECT_NE(out.find(" WARN - careful\n"), std::string::npos) << out;
  EXPECT_EQ(log::warn_count(), warns + 1);
  ::testing::internal::CaptureStderr();
  log::error("bad {}", 1);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(" ERROR - bad 1\n"), std::string::npos) << err;
  EXPECT_EQ(log::error_count(), errors + 1);
}

TEST(Log, DebugOnlyWithDetail) {
  if (std::getenv("SESHAT_DEBUG")) GTEST_SKIP() << "SESHAT_DEBUG forces detail on";
  log::set_detail(false);
  ::testing::internal::CaptureStdout();
  log::debug("hidden {}", 1);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  log::set_detail(true);
  EXPECT_TRUE(log::detail());
  ::testing::internal::CaptureStdout();
  log::debug("shown {}", 2);
  std::string out = ::testing::internal::GetCapturedStdout();
  log::set_detail(false);
  EXPECT_NE(out.find(" DEBUG - shown 2\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace seshat
