// container::parse_footer, check_header and parse_index on untrusted bytes.
//
// The first input byte picks a mode (the rest of the input is `in`):
//   0  parse_footer(in[8..40), object size = u64 in[0..8))
//   1  `in` is a whole container: check_header, parse_footer on its last 32 bytes, then
//      parse_index on the span the footer points at (authentication fails unless the bytes
//      were sealed under the fixed key, as the seeds are)
//   2  `in` is the zstd frame of an index: sealed under the fixed key, then parse_index
//      (gets past the MAC, so the fuzzer reaches the zstd and record decoding)
//   3  `in` is the plaintext index records: zstd-compressed, sealed, then
//      parse_index_with_origin
// Contract checked: only Error(kCorruption) is thrown; an accepted footer points inside the
// object.
#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "seshat/container/container.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"

using namespace seshat;

namespace {

void touch(const std::vector<container::IndexEntry>& entries) {
  // Read every field, so that an uninitialised or bogus entry shows under the sanitizers.
  uint64_t sum = 0;
  for (const auto& e : entries) {
    sum += e.blob.offset + e.blob.length + e.blob.raw_size + e.blob.compressed + e.blob.iv[15] + e.blob.mac[31];
    sum += e.file.path.size() + e.file.part + e.file.parts + e.file.file_size + static_cast<uint64_t>(e.file.mtime_ns);
    sum += e.file.mode + e.file.uid + e.file.gid + e.file.hash[31];
  }
  volatile uint64_t sink = sum;
  (void)sink;
}

template <typename Fn>
void expect_corruption_only(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kCorruption) {
      fuzz_fail(__FILE__, __LINE__,
                (std::string("unexpected error kind ") + error_kind_name(e.kind()) + ": " + e.what()).c_str());
    }
  }
  // Anything else (std::out_of_range, std::length_error, bad_alloc ...) escapes and
  // libFuzzer reports it as a crash.
}

void index_of_sealed(std::string_view sealed, bool with_origin) {
  expect_corruption_only([&] {
    if (!with_origin) {
      touch(container::parse_index(fuzz::fixed_keys(), sealed));
      return;
    }
    container::Index index = container::parse_index_with_origin(fuzz::fixed_keys(), sealed);
    volatile size_t n =
        index.origin.host.size() + index.origin.folder.size() + static_cast<size_t>(index.origin.backup_ns);
    (void)n;
    touch(index.entries);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const crypto::Keys& keys = fuzz::fixed_keys();
  switch (data[0] % 4) {
    case 0: {
      if (in.size() < 8) return 0;
      uint64_t object_size = ByteReader(in.substr(0, 8)).u64();
      std::string_view footer = in.substr(8);
      expect_corruption_only([&] {
        container::Footer f = container::parse_footer(footer, object_size);
        FUZZ_CHECK(footer.size() == container::kFooterSize);
        FUZZ_CHECK(f.index_offset >= container::kHeaderSize);
        FUZZ_CHECK(f.index_length <= object_size);
        FUZZ_CHECK(f.index_offset <= object_size - container::kFooterSize - f.index_length);
        FUZZ_CHECK(f.index_offset + f.index_length + container::kFooterSize == object_size);
      });
      break;
    }
    case 1: {
      expect_corruption_only([&] { container::check_header(in); });
      if (in.size() < container::kFooterSize) {
        expect_corruption_only([&] { container::parse_footer(in, in.size()); });
        return 0;
      }
      expect_corruption_only([&] {
        container::Footer f = container::parse_footer(in.substr(in.size() - container::kFooterSize), in.size());
        FUZZ_CHECK(f.index_offset >= container::kHeaderSize);
        FUZZ_CHECK(f.index_offset + f.index_length + container::kFooterSize == in.size());
        touch(container::parse_index(keys, in.substr(f.index_offset, f.index_length)));
      });
      break;
    }
    case 2:
      index_of_sealed(crypto::seal_packed(keys, in), false);
      break;
    case 3: {
      std::string z(ZSTD_compressBound(in.size()), '\0');
      size_t n = ZSTD_compress(z.data(), z.size(), in.data(), in.size(), 1);
      if (ZSTD_isError(n)) return 0;
      z.resize(n);
      index_of_sealed(crypto::seal_packed(keys, z), true);
      break;
    }
  }
  return 0;
}
