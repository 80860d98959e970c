// AWS Signature Version 4, for S3 requests signed by us (not by libcurl).
// One structure holds the path and query so that the URL sent and the canonical request
// signed are built from the same encoded strings and cannot disagree.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seshat::storage::sigv4 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

// RFC 3986 percent-encoding of every byte except A-Z a-z 0-9 - . _ ~ (and '/' if keep_slash).
std::string uri_encode(std::string_view s, bool keep_slash);

struct Request {
  std::string method;                                        // "GET", "PUT", ...
  std::string path;                                          // raw (unencoded) path, starting with '/'
  std::vector<std::pair<std::string, std::string>> query;    // raw keys and values
  std::vector<std::pair<std::string, std::string>> headers;  // name, value (host included)

  std::string encoded_path() const { return uri_encode(path, true); }
  // Sorted by encoded key, then value: "a=1&b=&c=x%20y".
  std::string canonical_query() const;
};

std::string hex_sha256(std::string_view data);

// "20150830T123600Z" for a Unix time.
std::string amz_date(int64_t unix_seconds);

struct Signed {
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;  // the Authorization header value
};

// Signs `req` (its headers must already include host and x-amz-date, and for S3
// x-amz-content-sha256). payload_hash is the hex SHA-256 of the body, or
// "UNSIGNED-PAYLOAD".
Signed sign(const Request& req, const std::string& payload_hash, const Credentials& creds, const std::string& region,
            const std::string& service, int64_t unix_seconds);

}  // namespace seshat::storage::sigv4
