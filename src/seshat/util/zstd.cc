#include "seshat/util/zstd.h"

#include <zstd.h>

namespace seshat::zstd {
namespace {

ZSTD_CCtx* cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> c(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!c) throw Error(ErrorKind::kPermanent, "out of memory (zstd context)");
  return c.get();
}

ZSTD_DCtx* dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!d) throw Error(ErrorKind::kPermanent, "out of memory (zstd context)");
  return d.get();
}

Error corrupt(const char* what) { return Error(ErrorKind::kCorruption, what); }

}  // namespace

size_t bound(size_t n) { return ZSTD_compressBound(n); }

size_t compress(std::string_view in, char* out, size_t cap, int level) {
  size_t n = ZSTD_compressCCtx(cctx(), out, cap, in.data(), in.size(), level);
  return ZSTD_isError(n) ? 0 : n;
}

Result<uint64_t> frame_size(std::string_view frame, uint64_t limit) {
  unsigned long long n = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > limit || n > frame.size() * 32768ull)
    return corrupt("bad compressed frame");
  return static_cast<uint64_t>(n);
}

Status decompress(std::string_view frame, uint64_t expected, std::string& out) {
  auto n = frame_size(frame, expected);
  if (!n) return n.error();
  if (*n != expected) return corrupt("bad compressed frame");
  if (out.size() < expected) out.resize(expected);
  size_t r = ZSTD_decompressDCtx(dctx(), out.data(), expected, frame.data(), frame.size());
  if (ZSTD_isError(r) || r != expected) return corrupt("bad compressed data");
  return {};
}

struct Compressor::Ctx {
  ZSTD_CCtx* z = ZSTD_createCCtx();
  ~Ctx() { ZSTD_freeCCtx(z); }
};

Compressor::Compressor(int level, uint64_t content_size, std::function<void(std::string_view)> sink)
    : ctx_(std::make_unique<Ctx>()), sink_(std::move(sink)), out_(ZSTD_CStreamOutSize(), '\0') {
  if (!ctx_->z || ZSTD_isError(ZSTD_CCtx_setParameter(ctx_->z, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(ctx_->z, content_size)))
    throw Error(ErrorKind::kPermanent, "cannot start zstd compression");
}

Compressor::~Compressor() = default;

void Compressor::update(std::string_view piece) { pump(piece, false); }
void Compressor::finish() { pump({}, true); }

void Compressor::pump(std::string_view piece, bool end) {
  ZSTD_inBuffer in{piece.data(), piece.size(), 0};
  for (;;) {
    ZSTD_outBuffer o{out_.data(), out_.size(), 0};
    size_t left = ZSTD_compressStream2(ctx_->z, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(left))
      throw Error(ErrorKind::kPermanent, std::string("zstd compression failed: ") + ZSTD_getErrorName(left));
    if (o.pos > 0) sink_(std::string_view(out_.data(), o.pos));
    if (end ? left == 0 : in.pos == in.size) break;
  }
}

}  // namespace seshat::zstd
