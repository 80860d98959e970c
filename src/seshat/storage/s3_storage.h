// Amazon S3 and S3-compatible stores over HTTP(S) with libcurl, requests signed with our own
// SigV4. Thread-safe: each thread uses its own kept-alive connection.
//
// One request is one attempt: building its URL (url_for), sending it (request), and judging
// the answer (classify_s3_response, pure and table-tested). Retrying is not done here but by
// RetryingStorage around the whole store (retry.h); only the parts of a multipart upload are
// retried by the writer itself, which keeps each part until S3 acknowledged it.
//
// The payload of every request is signed (x-amz-content-sha256), which S3 and the
// S3-compatible servers we know check; Content-MD5 is not sent with data: it would only
// repeat that check at the cost of an MD5 pass over every byte uploaded (about 13% more CPU
// for a first backup here). DeleteObjects, which requires it, gets it.
//
// Errors: kNotFound (NoSuchKey), kTransient (5xx, 429/SlowDown, timeouts, dropped
// connections), kPermanent with one line saying what to fix (403 / bad credentials, missing
// bucket, wrong region).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "seshat/storage/rate_limiter.h"
#include "seshat/storage/retry.h"
#include "seshat/storage/sigv4.h"
#include "seshat/storage/storage.h"

namespace seshat::storage {

struct S3Options {
  std::string bucket;
  std::string region = "us-east-1";
  std::string endpoint;       // e.g. http://127.0.0.1:4568; empty = AWS
  bool path_style = false;    // forced on when an endpoint is set
  std::string storage_class;  // for data objects (containers); empty = STANDARD
  sigv4::Credentials credentials;
  uint64_t part_size = 16ull << 20;  // multipart part size (>= 5 MiB on AWS)
  int parts_in_flight = 4;           // bound on parts held in memory per upload
  RetryOptions retry;                // for the parts of multipart uploads (whole operations: RetryingStorage)
  bool verify_tls = true;
  int64_t idle_seconds = 60;  // a request that moves no byte for this long fails
  // Connection failures (no answer at all, from every thread) that go on this long mean the
  // store cannot be reached: the command stops with kUnreachable instead of retrying each
  // object on its own.
  int64_t unreachable_after_seconds = 10;
  // SET LIMIT: every request but the lock's takes from these inside the transfer (its body
  // sent in slices, its answer paced as it arrives), retries and parts included.
  std::shared_ptr<RateLimiter> upload_limit, download_limit;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// How one S3 answer is to be taken. Pure: no I/O, no state.
struct S3Context {
  std::string what;  // "GET bucket/key", for messages
  std::string bucket;
  std::string key;
  bool ok_404 = false;  // a 404 is a normal answer (HEAD, DELETE)
};
// nullopt when the answer is a success (2xx, or a 404 the caller expects); else the Error to
// throw: kTransient for what may pass (5xx, 429, SlowDown, RequestTimeout, InternalError,
// RequestTimeTooSkewed), kNotFound, kCorruption for a short object (416), kLocked for 412,
// kInvalidInput for NotImplemented, kPermanent with advice for the rest.
std::optional<Error> classify_s3_response(long status, std::string_view body, const S3Context& c);

class S3Storage : public Storage {
 public:
  explicit S3Storage(S3Options options);
  ~S3Storage() override;
  std::string describe() const override;
  Capabilities capabilities() const override { return {.conditional_create = false}; }
  // A one-key listing: the bucket exists and the credentials work.
  void check() override;
  void put(const std::string& name, std::string_view data) override;
  bool put_if_absent(const std::string& name, std::string_view data) override;
  std::string get(const std::string& name) override;
  std::string get_range(const std::string& name, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> head(const std::string& name) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& name) override;
  void remove_many(const std::vector<std::string>& names) override;
  std::unique_ptr<ObjectWriter> create(const std::string& name, ObjectClass cls) override;
  // Aborts the unfinished multipart uploads under prefix (ListMultipartUploads). A server
  // without that call (NotImplemented) has nothing removed.
  Leftovers remove_incomplete(const std::string& prefix) override;

  struct Response {
    long status = 0;
    std::string body;
    Headers headers;  // lower-case names
    std::string header(const std::string& name) const;
  };
  struct Url {
    std::string url;   // scheme, host, encoded path and canonical query
    std::string host;  // the Host header
    std::string path;  // the canonical (unencoded) path that is signed
  };
  Url url_for(const std::string& key, const std::vector<std::pair<std::string, std::string>>& query) const;
  // One signed request, one attempt. Throws Error as classify_s3_response says, or
  // Error(kTransient, "cannot reach S3 (...)") when no answer came.
  Response request(const std::string& method, const std::string& key,
                   std::vector<std::pair<std::string, std::string>> query, Headers headers, std::string_view body,
                   bool ok_404 = false);
  // Puts one whole object (the storage class applies to data objects).
  void put_object(const std::string& name, std::string_view data, ObjectClass cls, Headers extra = {});

  const S3Options& options() const { return o_; }

 private:
  // A request that got no answer: kTransient, or kUnreachable once every request since
  // `started` of the first failure in a row has failed for unreachable_after_seconds.
  [[noreturn]] void no_answer(const std::string& what, const std::string& why, int64_t started_ns);
  void answered();

  S3Options o_;
  std::mutex streak_mu_;
  int streak_ = 0;               // requests in a row that got no answer
  int64_t streak_start_ns_ = 0;  // when the first of them started
};

}  // namespace seshat::storage
