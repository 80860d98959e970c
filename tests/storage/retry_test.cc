// Retry as a wrapper, and the pure judgement of an S3 answer.
#include "seshat/storage/retry.h"

#include <gtest/gtest.h>

#include "../test_support.h"
#include "seshat/storage/local_storage.h"
#include "seshat/storage/s3_storage.h"

namespace seshat::storage {
namespace {

using testing_support::TempDir;

// Fails the first `failures` calls of each operation with the given kind; the last failed
// put_if_absent may first really store the object (as when only the answer was lost).
class Flaky : public StorageWrapper {
 public:
  Flaky(std::shared_ptr<Storage> inner, int failures, ErrorKind kind)
      : StorageWrapper(std::move(inner)), left_(failures), kind_(kind) {}
  std::string get(const std::string& n) override {
    trip();
    return inner_->get(n);
  }
  bool put_if_absent(const std::string& n, std::string_view d) override {
    ++calls;
    if (left_ > 0 && store_then_fail) {
      inner_->put_if_absent(n, d);
      trip();
    }
    trip();
    return inner_->put_if_absent(n, d);
  }
  std::vector<ObjectInfo> list(const std::string& p) override {
    trip();
    return inner_->list(p);
  }
  int calls = 0;
  bool store_then_fail = false;

 private:
  void trip() {
    if (left_ > 0) {
      --left_;
      throw Error(kind_, "flaky");
    }
  }
  int left_;
  ErrorKind kind_;
};

struct Fixture {
  TempDir dir;
  std::shared_ptr<LocalStorage> local = std::make_shared<LocalStorage>(dir / "s");
  std::vector<int64_t> slept;
  Retry::Sleep sleep = [this](int64_t ms) { slept.push_back(ms); };
};

TEST(Retry, TransientFailuresAreRetriedWithGrowingDelays) {
  Fixture f;
  f.local->put("x", "data");
  auto flaky = std::make_shared<Flaky>(f.local, 3, ErrorKind::kTransient);
  RetryingStorage r(flaky, RetryOptions{.attempts = 6, .backoff_ms = 100, .cap_ms = 1000}, f.sleep);
  EXPECT_EQ(r.get("x"), "data");
  ASSERT_EQ(f.slept.size(), 3u);
  EXPECT_GE(f.slept[0], 50);
  EXPECT_LE(f.slept[0], 100);
  EXPECT_GE(f.slept[2], 200);
  EXPECT_LE(f.slept[2], 400);
}

TEST(Retry, OtherErrorsAreNotRetried) {
  Fixture f;
  auto flaky = std::make_shared<Flaky>(f.local, 1, ErrorKind::kPermanent);
  RetryingStorage r(flaky, {}, f.sleep);
  EXPECT_THROW_KIND(kPermanent, r.list(""));
  EXPECT_TRUE(f.slept.empty());
  EXPECT_THROW_KIND(kNotFound, RetryingStorage(f.local, {}, f.sleep).get("missing"));
}

TEST(Retry, GivingUpSaysHowOftenItTried) {
  Fixture f;
  auto flaky = std::make_shared<Flaky>(f.local, 100, ErrorKind::kTransient);
  RetryingStorage r(flaky, RetryOptions{.attempts = 4, .backoff_ms = 10, .cap_ms = 20}, f.sleep);
  try {
    r.list("");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kTransient);
    EXPECT_NE(std::string(e.what()).find("failed after 4 attempts: flaky"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.slept.size(), 3u);
  for (int64_t ms : f.slept) EXPECT_LE(ms, 20);  // capped
}

TEST(Retry, AConditionalCreateWhoseAnswerWasLostIsOurs) {
  Fixture f;
  auto flaky = std::make_shared<Flaky>(f.local, 1, ErrorKind::kTransient);
  flaky->store_then_fail = true;
  RetryingStorage r(flaky, {}, f.sleep);
  EXPECT_TRUE(r.put_if_absent("gen", "our bytes"));  // stored by the failed try: ours
  EXPECT_EQ(f.local->get("gen"), "our bytes");
  EXPECT_FALSE(r.put_if_absent("gen", "other bytes"));  // someone else's (ours now) stays
}

TEST(Retry, AConditionalCreateThatLostToAnotherWriterSaysSo) {
  Fixture f;
  f.local->put("gen", "theirs");
  auto flaky = std::make_shared<Flaky>(f.local, 1, ErrorKind::kTransient);
  RetryingStorage r(flaky, {}, f.sleep);
  EXPECT_FALSE(r.put_if_absent("gen", "ours"));
  EXPECT_EQ(f.local->get("gen"), "theirs");
}

// The S3 answers and what each means, as a table.
TEST(S3Classify, EveryAnswerHasItsKind) {
  S3Context c{"GET b/k", "b", "k", false};
  auto body = [](const char* code) {
    return std::string("<?xml version=\"1.0\"?><Error><Code>") + code + "</Code><Message>m</Message></Error>";
  };
  struct Case {
    long status;
    std::string body;
    bool ok_404;
    std::optional<ErrorKind> kind;
    const char* says;
  } cases[] = {
      {200, "", false, std::nullopt, ""},
      {204, "", false, std::nullopt, ""},
      {206, "", false, std::nullopt, ""},
      {404, "", true, std::nullopt, ""},
      {404, body("NoSuchKey"), false, ErrorKind::kNotFound, "object not found: k"},
      {404, body("NoSuchBucket"), false, ErrorKind::kPermanent, "does not exist"},
      {500, body("InternalError"), false, ErrorKind::kTransient, "S3 answered InternalError"},
      {503, body("SlowDown"), false, ErrorKind::kTransient, "SlowDown"},
      {502, "", false, ErrorKind::kTransient, "HTTP 502"},
      {429, "", false, ErrorKind::kTransient, "HTTP 429"},
      {400, body("RequestTimeout"), false, ErrorKind::kTransient, "RequestTimeout"},
      {403, body("RequestTimeTooSkewed"), false, ErrorKind::kTransient, "RequestTimeTooSkewed"},
      {416, body("InvalidRange"), false, ErrorKind::kCorruption, "shorter than expected"},
      {403, body("InvalidAccessKeyId"), false, ErrorKind::kPermanent, "AWS_ACCESS_KEY_ID"},
      {403, body("SignatureDoesNotMatch"), false, ErrorKind::kPermanent, "secret key"},
      {301, body("PermanentRedirect"), false, ErrorKind::kPermanent, "S3 REGION"},
      {400, body("AuthorizationHeaderMalformed"), false, ErrorKind::kPermanent, "S3 REGION"},
      {403, body("AccessDenied"), false, ErrorKind::kPermanent, "bucket policy"},
      {412, body("PreconditionFailed"), false, ErrorKind::kLocked, "precondition failed"},
      {501, body("NotImplemented"), false, ErrorKind::kInvalidInput, "does not implement"},
      {400, body("InvalidArgument"), false, ErrorKind::kPermanent, "S3 refused GET b/k: InvalidArgument (m)"},
  };
  for (const auto& k : cases) {
    c.ok_404 = k.ok_404;
    auto e = classify_s3_response(k.status, k.body, c);
    SCOPED_TRACE(std::to_string(k.status) + " " + k.body);
    ASSERT_EQ(e.has_value(), k.kind.has_value());
    if (!e) continue;
    EXPECT_EQ(e->kind(), *k.kind);
    EXPECT_NE(std::string(e->what()).find(k.says), std::string::npos) << e->what();
  }
}

TEST(S3Url, PathAndVirtualStyleAndCanonicalQuery) {
  S3Options o;
  o.bucket = "bk";
  o.region = "eu-west-2";
  S3Storage aws(o);
  auto u = aws.url_for("containers/SEF a", {{"uploadId", "x/y"}, {"partNumber", "2"}});
  EXPECT_EQ(u.host, "bk.s3.eu-west-2.amazonaws.com");
  EXPECT_EQ(u.url, "https://bk.s3.eu-west-2.amazonaws.com/containers/SEF%20a?partNumber=2&uploadId=x%2Fy");
  o.endpoint = "http://127.0.0.1:9000/";
  S3Storage local(o);
  auto v = local.url_for("k", {});
  EXPECT_EQ(v.host, "127.0.0.1:9000");
  EXPECT_EQ(v.url, "http://127.0.0.1:9000/bk/k");
  EXPECT_EQ(v.path, "/bk/k");
}

}  // namespace
}  // namespace seshat::storage
