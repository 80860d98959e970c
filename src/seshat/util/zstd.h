// zstd, the one wrapper: one compression and one decompression context per thread (a fresh
// context per call costs an allocation of up to a few MB and its page faults), bounded
// decompression of untrusted frames, and streaming compression into a sink.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "seshat/util/error.h"

namespace seshat::zstd {

size_t bound(size_t n);
// Compresses `in` into out[0, cap) with the thread's context; returns the compressed size, or
// 0 if compression failed or needed more room (callers then keep the plain bytes).
size_t compress(std::string_view in, char* out, size_t cap, int level);
// The content size a frame declares, checked before anything is allocated: it must be
// recorded, at most `limit`, and no more than the frame can expand to (zstd cannot turn a
// 4-byte block into more than 128 KiB). Error(kCorruption) otherwise.
Result<uint64_t> frame_size(std::string_view frame, uint64_t limit);
// Decompresses a whole frame that must hold exactly `expected` bytes into out[0, expected)
// (out grows, never shrinks). Error(kCorruption) on anything else.
Status decompress(std::string_view frame, uint64_t expected, std::string& out);

// Streaming compression: pieces in, compressed pieces to the sink; the frame records
// `content_size`, which the pieces must add up to.
class Compressor {
 public:
  Compressor(int level, uint64_t content_size, std::function<void(std::string_view)> sink);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  void update(std::string_view piece);
  void finish();

 private:
  void pump(std::string_view piece, bool end);
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  std::function<void(std::string_view)> sink_;
  std::string out_;
};

}  // namespace seshat::zstd
