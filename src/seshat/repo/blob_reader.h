// What a restore (and VERIFY DATA) needs to read file contents back, and nothing below it:
// blobs fetched, authenticated, decrypted and decompressed. The reader owns the read plan
// (DESIGN.md §7): requests grouped by container, sorted by offset, neighbours coalesced into
// one ranged read, several reads at once; a coalesced read that fails is retried blob by
// blob, so that the intact blobs of a damaged or truncated container still come back.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/util/error.h"

namespace seshat::repo {

struct BlobRequest {
  const catalog::BlobRef* ref;  // where the blob is (kept alive by the caller)
  uint64_t tag;                 // the caller's, handed back with the blob
};

class BlobReader {
 public:
  struct Sink {
    // A blob's plaintext, valid during the call. From any thread.
    std::function<void(uint64_t tag, std::string_view plain)> blob;
    // A blob that could not be read or authenticated; the Error says why (kind kInterrupted
    // when Ctrl-C stopped the reads, kCorruption for damage). From any thread.
    std::function<void(uint64_t tag, const Error& why)> failed;
  };
  virtual ~BlobReader() = default;
  // Every request is answered exactly once, by blob() or failed(). Returns when all are.
  virtual void read(std::vector<BlobRequest> requests, int threads, const Sink& sink) = 0;
};

// How the reads are grouped: neighbouring blobs of one container are read together when the
// gap between them is at most max_gap and the read at most max_range bytes.
struct ReadPlan {
  uint64_t max_range = 4ull << 20;
  uint64_t max_gap = 256ull << 10;
};

// The ranged reads a reader makes of requests, as index lists into `requests`: pure, for the
// reader and its tests.
struct PlannedRead {
  uint32_t container;
  uint64_t start = 0, end = 0;
  std::vector<size_t> members;  // indexes into the requests
};
std::vector<PlannedRead> plan_reads(const std::vector<BlobRequest>& requests, const ReadPlan& plan);

}  // namespace seshat::repo
