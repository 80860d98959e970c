#include "seshat/storage/s3_storage.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "seshat/storage/s3_xml.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"
#include "seshat/util/workers.h"

namespace seshat::storage {
namespace {

std::once_flag g_curl_init;

// One easy handle per thread: curl keeps that thread's connections alive between requests.
struct ThreadCurl {
  CURL* h = nullptr;
  ThreadCurl() {
    std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    h = curl_easy_init();
  }
  ~ThreadCurl() {
    if (h) curl_easy_cleanup(h);
  }
};

CURL* thread_handle() {
  thread_local ThreadCurl c;
  if (!c.h) throw Error(ErrorKind::kPermanent, "cannot initialise libcurl");
  return c.h;
}

// Ctrl-C or SIGTERM: a transfer that is moving goes on to the clean point the command stops
// at (a backup's last container and checkpoint); one that has moved nothing for a second is
// aborted, so that a store that stopped answering cannot hold the process.
struct Progress {
  curl_off_t moved = -1;
  int64_t moved_ns = 0;  // when a byte last moved: a paced transfer is long, and alive while it moves
  curl_off_t sent = 0;   // counted to count_sent() (the backup's status line)
  bool count = true;     // not the lock's records
  std::chrono::steady_clock::time_point since;
};
int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  (void)dltotal, (void)ultotal;
  auto* p = static_cast<Progress*>(user);
  if (ulnow > p->sent) {
    if (p->count) count_sent(static_cast<uint64_t>(ulnow - p->sent));
    p->sent = ulnow;
  }
  auto now = std::chrono::steady_clock::now();
  if (dlnow + ulnow != p->moved) {
    p->moved = dlnow + ulnow;
    p->since = now;
    p->moved_ns = now_ns();
    return 0;
  }
  return interrupted() && now - p->since > std::chrono::seconds(1) ? 1 : 0;
}

// The answer's body, paced by the download limit as it arrives (curl reads no more meanwhile).
struct BodySink {
  std::string* body;
  RateLimiter* limit;
};
size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<BodySink*>(user);
  s->body->append(data, size * n);
  if (s->limit) s->limit->take(size * n);
  return size * n;
}

// A request body sent in slices of the upload limit (curl may rewind it to send it again).
struct BodySource {
  std::string_view body;
  size_t pos = 0;
  RateLimiter* limit;
};
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* s = static_cast<BodySource*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > s->body.size()) return CURL_SEEKFUNC_CANTSEEK;
  s->pos = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}
size_t on_send(char* buf, size_t size, size_t n, void* user) {
  auto* s = static_cast<BodySource*>(user);
  size_t k = std::min({size * n, s->body.size() - s->pos, static_cast<size_t>(s->limit->slice())});
  s->limit->take(k);
  std::memcpy(buf, s->body.data() + s->pos, k);
  s->pos += k;
  return k;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    headers->emplace_back(std::move(name), std::move(value));
  } else if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100 Continue or a redirect)
  }
  return size * n;
}

std::string base64_md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// A multipart upload that streams: parts go up in parallel while the caller writes, with at
// most parts_in_flight parts held in memory.
class S3Writer : public ObjectWriter {
 public:
  S3Writer(S3Storage& s3, std::string name, ObjectClass cls)
      : s3_(s3), name_(std::move(name)), cls_(cls), retry_(s3.options().retry) {}
  ~S3Writer() override { abort(); }

  void write(std::string_view data) override {
    if (done_) throw Error(ErrorKind::kPermanent, "write after commit/abort");
    buffer_.append(data);
    size_ += data.size();
    while (buffer_.size() >= s3_.options().part_size) {
      std::string part = buffer_.substr(0, s3_.options().part_size);
      buffer_.erase(0, s3_.options().part_size);
      send_part(std::move(part));
    }
  }
  uint64_t size() const override { return size_; }

  void commit() override {
    if (done_) throw Error(ErrorKind::kPermanent, "commit after commit/abort");
    if (upload_id_.empty()) {
      retry_.run("PUT " + name_, [&] { s3_.put_object(name_, buffer_, cls_); });
      done_ = true;
      return;
    }
    if (!buffer_.empty()) send_part(std::move(buffer_));
    buffer_.clear();
    for (; waited_ < parts_.size(); ++waited_) etags_.push_back(parts_[waited_].get());
    parts_.clear();
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags_.size(); ++i)
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xml_escape(etags_[i]) +
             "</ETag></Part>";
    xml += "</CompleteMultipartUpload>";
    auto r = retry_.run("completing the upload of " + name_, [&] {
      return s3_.request("POST", name_, {{"uploadId", upload_id_}}, {{"content-type", "application/xml"}}, xml);
    });
    // CompleteMultipartUpload may answer 200 with an error in the body.
    S3ErrorInfo e = parse_s3_error(r.body);
    if (!e.code.empty())
      throw Error(ErrorKind::kTransient,
                  "S3 could not complete the upload of " + name_ + ": " + e.code + " " + e.message);
    done_ = true;
    log::debug("Uploaded {} in {} parts ({})", name_, next_part_ - 1, human_size(size_));
  }

  void abort() override {
    if (done_) return;
    done_ = true;
    for (auto& f : parts_) {
      try {
        if (f.valid()) f.get();
      } catch (...) {
      }
    }
    parts_.clear();
    if (!upload_id_.empty()) {
      try {
        retry_.run("aborting the upload of " + name_, [&] {
          s3_.request("DELETE", name_, {{"uploadId", upload_id_}}, {}, {}, true);
        });
      } catch (const std::exception& e) {
        log::debug("Could not abort the multipart upload of {}: {}", name_, e.what());
      }
    }
  }

 private:
  void send_part(std::string data) {
    if (upload_id_.empty()) {
      Headers headers;
      if (cls_ == ObjectClass::kData && !s3_.options().storage_class.empty())
        headers.emplace_back("x-amz-storage-class", s3_.options().storage_class);
      auto r = retry_.run("starting the upload of " + name_, [&] {
        return s3_.request("POST", name_, {{"uploads", ""}}, headers, {});
      });
      upload_id_ = parse_upload_id(r.body);
      if (upload_id_.empty()) throw Error(ErrorKind::kTransient, "S3 did not start a multipart upload for " + name_);
      log::info("Uploading multipart part file {}/{}", s3_.options().bucket, name_);
    }
    // Bound the memory: wait for the oldest part still in flight.
    size_t in_flight = 0;
    for (size_t i = waited_; i < parts_.size(); ++i) ++in_flight;
    if (in_flight >= static_cast<size_t>(std::max(1, s3_.options().parts_in_flight))) {
      etags_.push_back(parts_[waited_].get());  // throws the part's error, if any
      parts_[waited_] = {};
      ++waited_;
    }
    if (next_part_ > 10000)
      throw Error(ErrorKind::kInvalidInput,
                  "S3 takes at most 10,000 parts in one upload: lower SET MAX or raise the part size");
    int number = next_part_++;
    // The part's bytes move into the task and are freed when it ends: a finished future must
    // not keep them (memory stays within parts_in_flight parts).
    parts_.push_back(std::async(std::launch::async, [this, number, d = std::move(data)]() mutable {
      std::string body = std::move(d);
      auto r = retry_.run("PUT of part " + std::to_string(number) + " of " + name_, [&] {
        return s3_.request("PUT", name_, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}}, {}, body);
      });
      body = std::string();
      std::string etag = r.header("etag");
      if (etag.empty()) throw Error(ErrorKind::kTransient, "S3 gave no ETag for a part of " + name_);
      fault::point("s3.part_uploaded");
      return etag;
    }));
  }

  S3Storage& s3_;
  std::string name_;
  ObjectClass cls_;
  Retry retry_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::future<std::string>> parts_;
  std::vector<std::string> etags_;  // of parts_[0, waited_)
  size_t waited_ = 0;
  int next_part_ = 1;
  uint64_t size_ = 0;
  bool done_ = false;
};

}  // namespace

std::string S3Storage::Response::header(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "";
}

S3Storage::S3Storage(S3Options options) : o_(std::move(options)) {
  if (o_.bucket.empty()) throw Error(ErrorKind::kInvalidInput, "no S3 bucket set (S3 BUCKET <name>)");
  if (!o_.endpoint.empty()) {
    o_.path_style = true;
    while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
    if (o_.endpoint.find("://") == std::string::npos) o_.endpoint = "https://" + o_.endpoint;
  }
  if (o_.part_size < (1ull << 20)) o_.part_size = 1ull << 20;
}

S3Storage::~S3Storage() = default;

std::string S3Storage::describe() const {
  return "S3 " + o_.bucket + (o_.endpoint.empty() ? "" : " at " + o_.endpoint);
}

S3Storage::Url S3Storage::url_for(const std::string& key,
                                  const std::vector<std::pair<std::string, std::string>>& query) const {
  Url u;
  std::string scheme_host;
  if (o_.endpoint.empty()) {
    std::string aws_host = "s3." + o_.region + ".amazonaws.com";
    u.host = o_.path_style ? aws_host : o_.bucket + "." + aws_host;
    scheme_host = "https://" + u.host;
  } else {
    scheme_host = o_.endpoint;
    u.host = o_.endpoint.substr(o_.endpoint.find("://") + 3);
    u.host = u.host.substr(0, u.host.find('/'));
  }
  sigv4::Request req;
  req.path = o_.path_style ? "/" + o_.bucket + (key.empty() ? "" : "/" + key) : "/" + key;
  req.query = query;
  u.path = req.path;
  u.url = scheme_host + req.encoded_path();
  std::string q = req.canonical_query();
  if (!q.empty()) u.url += "?" + q;
  return u;
}

std::optional<Error> classify_s3_response(long status, std::string_view body, const S3Context& c) {
  if (status >= 200 && status < 300) return std::nullopt;
  if (status == 404 && c.ok_404) return std::nullopt;
  S3ErrorInfo e = parse_s3_error(body);
  std::string detail =
      e.code.empty() ? "HTTP " + std::to_string(status) : e.code + (e.message.empty() ? "" : " (" + e.message + ")");
  auto err = [](ErrorKind k, std::string m) { return std::optional<Error>(Error(k, std::move(m))); };
  if (e.code == "NotImplemented") return err(ErrorKind::kInvalidInput, "the S3 server does not implement " + c.what);
  if (status >= 500 || status == 429 || e.code == "SlowDown" || e.code == "RequestTimeout" ||
      e.code == "InternalError" || e.code == "RequestTimeTooSkewed")
    return err(ErrorKind::kTransient, "S3 answered " + detail + " to " + c.what);
  if (status == 404 && e.code == "NoSuchBucket")
    return err(ErrorKind::kPermanent, "the S3 bucket " + c.bucket + " does not exist (S3 BUCKET sets the name)");
  if (status == 404 || e.code == "NoSuchKey") return err(ErrorKind::kNotFound, "object not found: " + c.key);
  if (status == 416 || e.code == "InvalidRange")
    return err(ErrorKind::kCorruption, "object " + c.key + " is shorter than expected");
  if (e.code == "InvalidAccessKeyId")
    return err(ErrorKind::kPermanent,
               "S3 does not know the access key (InvalidAccessKeyId): check AWS_ACCESS_KEY_ID or ~/.aws/credentials");
  if (e.code == "SignatureDoesNotMatch")
    return err(ErrorKind::kPermanent,
               "S3 rejected the request signature (SignatureDoesNotMatch): check the secret key");
  if (status == 301 || e.code == "PermanentRedirect" || e.code == "AuthorizationHeaderMalformed")
    return err(ErrorKind::kPermanent,
               "the S3 bucket " + c.bucket + " is in another region: set S3 REGION (" + detail + ")");
  if (status == 403)
    return err(ErrorKind::kPermanent,
               "S3 denied " + c.what + ": " + detail + "; check the credentials and the bucket policy");
  if (status == 412) return err(ErrorKind::kLocked, "precondition failed for " + c.what);
  return err(ErrorKind::kPermanent, "S3 refused " + c.what + ": " + detail);
}

S3Storage::Response S3Storage::request(const std::string& method, const std::string& key,
                                       std::vector<std::pair<std::string, std::string>> query, Headers headers,
                                       std::string_view body, bool ok_404) {
  Url u = url_for(key, query);
  const std::string payload_hash = sigv4::hex_sha256(body);
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  sigv4::Request req;
  req.method = method;
  req.path = u.path;
  req.query = std::move(query);
  req.headers = headers;
  req.headers.emplace_back("host", u.host);
  req.headers.emplace_back("x-amz-date", sigv4::amz_date(now));
  req.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!o_.credentials.session_token.empty())
    req.headers.emplace_back("x-amz-security-token", o_.credentials.session_token);
  sigv4::Signed s = sigv4::sign(req, payload_hash, o_.credentials, o_.region, "s3", now);

  CURL* h = thread_handle();
  curl_easy_reset(h);
  curl_slist* list = nullptr;
  for (const auto& [n, v] : req.headers) list = curl_slist_append(list, (n + ": " + v).c_str());
  list = curl_slist_append(list, ("Authorization: " + s.authorization).c_str());
  list = curl_slist_append(list, "Expect:");
  if (method == "PUT" || method == "POST") {
    bool has_type = false;
    for (const auto& [n, v] : headers) has_type |= (n == "content-type");
    if (!has_type) list = curl_slist_append(list, "Content-Type:");
  }
  struct FreeList {
    curl_slist* l;
    ~FreeList() { curl_slist_free_all(l); }
  } free_list{list};
  Response resp;
  curl_easy_setopt(h, CURLOPT_URL, u.url.c_str());
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o_.idle_seconds));
  Progress progress;
  progress.since = std::chrono::steady_clock::now();
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &progress);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, o_.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, o_.verify_tls ? 2L : 0L);
  const bool limited = !exempt_from_limits(key);
  RateLimiter* up = limited && o_.upload_limit && o_.upload_limit->rate() ? o_.upload_limit.get() : nullptr;
  RateLimiter* down = limited && o_.download_limit && o_.download_limit->rate() ? o_.download_limit.get() : nullptr;
  BodySink sink{&resp.body, down};
  BodySource source{body, 0, up};
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  // Chunks of about a slice of the rate, so that a slow limit paces in short waits.
  if (down)
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, static_cast<long>(std::clamp<uint64_t>(down->slice(), 1024, 16384)));
  progress.count = limited;
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "PUT" && up && !body.empty()) {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_send);
      curl_easy_setopt(h, CURLOPT_READDATA, &source);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &source);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method == "PUT" || method == "POST") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  const int64_t started = now_ns();
  CURLcode rc = curl_easy_perform(h);
  const std::string what = method + " " + (key.empty() ? o_.bucket : o_.bucket + "/" + key);
  if (rc == CURLE_ABORTED_BY_CALLBACK) throw Error(ErrorKind::kInterrupted, "interrupted during " + what);
  // The no-answer streak starts when this request last moved a byte (a long paced transfer).
  if (rc != CURLE_OK) no_answer(what, curl_easy_strerror(rc), std::max(started, progress.moved_ns));
  answered();
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  if (auto e = classify_s3_response(resp.status, resp.body, {what, o_.bucket, key, ok_404})) throw *e;
  return resp;
}

void S3Storage::no_answer(const std::string& what, const std::string& why, int64_t started_ns) {
  int64_t since;
  int failures;
  {
    std::lock_guard<std::mutex> lk(streak_mu_);
    if (streak_ == 0 || started_ns < streak_start_ns_) streak_start_ns_ = started_ns;
    failures = ++streak_;
    since = streak_start_ns_;
  }
  const int64_t secs = (now_ns() - since) / 1000000000;
  const std::string where = o_.endpoint.empty() ? "S3" : "S3 at " + o_.endpoint;
  if (secs >= o_.unreachable_after_seconds)
    throw Error(ErrorKind::kUnreachable, fmt::format("cannot reach {} ({}): no answer to {} requests in {} s; stopped",
                                                     where, why, failures, secs));
  throw Error(ErrorKind::kTransient, "cannot reach " + where + " (" + why + ") for " + what);
}

void S3Storage::answered() {
  std::lock_guard<std::mutex> lk(streak_mu_);
  streak_ = 0;
}

void S3Storage::check() { request("GET", "", {{"list-type", "2"}, {"max-keys", "1"}}, {}, {}); }

void S3Storage::put_object(const std::string& name, std::string_view data, ObjectClass cls, Headers extra) {
  check_object_name(name);
  if (cls == ObjectClass::kData && !o_.storage_class.empty())
    extra.emplace_back("x-amz-storage-class", o_.storage_class);
  request("PUT", name, {}, std::move(extra), data);
}

void S3Storage::put(const std::string& name, std::string_view data) { put_object(name, data, ObjectClass::kMetadata); }

bool S3Storage::put_if_absent(const std::string& name, std::string_view data) {
  check_object_name(name);
  if (head(name)) return false;
  try {
    // Honoured by AWS S3 (and ignored by some compatible servers, hence the HEAD above).
    put_object(name, data, ObjectClass::kMetadata, {{"If-None-Match", "*"}});
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kLocked) return false;
    throw;
  }
  return true;
}

std::string S3Storage::get(const std::string& name) {
  check_object_name(name);
  return request("GET", name, {}, {}, {}).body;
}

std::string S3Storage::get_range(const std::string& name, uint64_t offset, uint64_t length) {
  check_object_name(name);
  if (length == 0) return "";
  auto r = request("GET", name, {},
                   {{"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)}}, {});
  if (r.status == 200 && r.body.size() > length && r.body.size() >= offset + length)
    return r.body.substr(offset, length);
  if (r.body.size() != length) throw Error(ErrorKind::kCorruption, "object " + name + " is shorter than expected");
  return std::move(r.body);
}

std::optional<uint64_t> S3Storage::head(const std::string& name) {
  check_object_name(name);
  auto r = request("HEAD", name, {}, {}, {}, true);
  if (r.status == 404) return std::nullopt;
  std::string len = r.header("content-length");
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (len.empty() || ec != std::errc() || end != len.data() + len.size())
    throw Error(ErrorKind::kPermanent, "S3 answered HEAD " + name + " without a valid Content-Length");
  return n;
}

std::vector<ObjectInfo> S3Storage::list(const std::string& prefix) {
  std::vector<ObjectInfo> out;
  std::string token;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> q = {{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    auto r = request("GET", "", q, {}, {});
    ListPage page = parse_list_result(r.body);
    for (auto& o : page.objects)
      if (o.name.find(".seshat-tmp") == std::string::npos) out.push_back(std::move(o));
    if (!page.truncated) break;
    const std::string& next = page.next_token;
    if (next.empty() || next == token)
      throw Error(ErrorKind::kTransient, "S3 sent a truncated listing without a continuation token");
    token = next;
  }
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

void S3Storage::remove(const std::string& name) {
  check_object_name(name);
  request("DELETE", name, {}, {}, {}, true);
}

void S3Storage::remove_many(const std::vector<std::string>& names) {
  // DeleteObjects takes at most 1,000 keys a request.
  for (size_t start = 0; start < names.size(); start += 1000) {
    std::string xml = "<Delete><Quiet>true</Quiet>";
    for (size_t i = start; i < std::min(names.size(), start + 1000); ++i) {
      check_object_name(names[i]);
      xml += "<Object><Key>" + xml_escape(names[i]) + "</Key></Object>";
    }
    xml += "</Delete>";
    auto r = request("POST", "", {{"delete", ""}},
                     {{"Content-MD5", base64_md5(xml)}, {"content-type", "application/xml"}}, xml);
    std::string err = parse_delete_errors(r.body);
    if (!err.empty()) throw Error(ErrorKind::kPermanent, "S3 could not delete " + err);
  }
}

Leftovers S3Storage::remove_incomplete(const std::string& prefix) {
  Leftovers out;
  std::string key_marker, id_marker;
  for (int page_no = 0; page_no < 1000; ++page_no) {
    std::vector<std::pair<std::string, std::string>> q = {{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) q.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) q.emplace_back("upload-id-marker", id_marker);
    UploadsPage page;
    try {
      page = parse_uploads_result(request("GET", "", q, {}, {}).body);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kInvalidInput) throw;
      log::debug("Unfinished uploads cannot be listed: {}", e.what());
      return out;
    }
    for (const auto& [key, id] : page.uploads) {
      if (!key.starts_with(prefix)) continue;
      request("DELETE", key, {{"uploadId", id}}, {}, {}, true);
      ++out.objects;
    }
    if (!page.truncated || page.next_key_marker.empty()) break;
    key_marker = page.next_key_marker;
    id_marker = page.next_upload_id_marker;
  }
  return out;
}

std::unique_ptr<ObjectWriter> S3Storage::create(const std::string& name, ObjectClass cls) {
  check_object_name(name);
  return std::make_unique<S3Writer>(*this, name, cls);
}

}  // namespace seshat::storage
