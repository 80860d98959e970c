// Amazon S3 and S3-compatible stores over HTTP(S) with libcurl, requests signed with our own
// SigV4. Thread-safe: each thread uses its own kept-alive connection.
//
// Errors: kNotFound (NoSuchKey), kTransient (5xx, 429/SlowDown, timeouts, dropped
// connections, after the retries ran out), kPermanent with one line saying what to fix
// (403 / bad credentials, missing bucket, wrong region).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "seshat/storage/sigv4.h"
#include "seshat/storage/storage.h"

namespace seshat::storage {

struct S3Options {
  std::string bucket;
  std::string region = "us-east-1";
  std::string endpoint;        // e.g. http://127.0.0.1:4568; empty = AWS
  bool path_style = false;     // forced on when an endpoint is set
  std::string storage_class;   // for containers/ objects; empty = STANDARD
  sigv4::Credentials credentials;
  uint64_t part_size = 16ull << 20;  // multipart part size (>= 5 MiB on AWS)
  int parts_in_flight = 4;           // bound on parts held in memory per upload
  int max_attempts = 6;              // per request, with exponential backoff and jitter
  int64_t backoff_ms = 250;          // first retry delay; doubles up to backoff_cap_ms
  int64_t backoff_cap_ms = 8000;
  bool verify_tls = true;
};

class S3Storage : public Storage {
 public:
  explicit S3Storage(S3Options options);
  ~S3Storage() override;
  std::string describe() const override;
  Capabilities capabilities() const override { return {.conditional_create = false}; }
  void put(const std::string& name, std::string_view data) override;
  bool put_if_absent(const std::string& name, std::string_view data) override;
  std::string get(const std::string& name) override;
  std::string get_range(const std::string& name, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> head(const std::string& name) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& name) override;
  void remove_many(const std::vector<std::string>& names) override;
  std::unique_ptr<ObjectWriter> create(const std::string& name) override;
  // Aborts the unfinished multipart uploads under prefix (ListMultipartUploads). A server
  // without that call (NotImplemented) has nothing removed.
  Leftovers remove_incomplete(const std::string& prefix) override;

  // Checks that the bucket exists and the credentials work (a one-key listing).
  void check_access();

  struct Response {
    long status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
    std::string header(const std::string& name) const;
  };
  // One signed request with retries. Throws Error on failure (after retries for transient
  // ones). `ok_404` makes a 404 a normal response.
  Response request(const std::string& method, const std::string& key,
                   std::vector<std::pair<std::string, std::string>> query,
                   std::vector<std::pair<std::string, std::string>> headers, std::string_view body, bool ok_404 = false);

  const S3Options& options() const { return o_; }

 private:
  S3Options o_;
};

}  // namespace seshat::storage
