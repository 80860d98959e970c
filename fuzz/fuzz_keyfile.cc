// crypto::open_keyfile on untrusted text with a fixed passphrase.
//
// Argon2 costs what the file asks for, within derive_keys' limits (ops <= 100, mem <= 4 GiB):
// far too slow for fuzzing. So the input is parsed first with the same nlohmann::json, and
// skipped when the ops and mem that open_keyfile would pass on are accepted by derive_keys
// but expensive (ops > 2 or mem > 64 KiB). Values derive_keys rejects anyway (ops 0,
// ops > 100, mem < 8 KiB, mem > 4 GiB, negative numbers, ...) still go through, to exercise
// the range check.
//
// Contract checked: open_keyfile throws only Error(kCorruption) or, for a wrong
// passphrase, Error(kInvalidInput); a key file it accepts unwraps to 64 bytes of keys.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fuzz_common.h"
#include "seshat/crypto/keyfile.h"
#include "seshat/util/error.h"

using namespace seshat;

namespace {

// What `j.get<uint64_t>()` yields, when that is well defined; nullopt for a value that is not
// a number or bool (get throws) or a float outside uint64's range (undefined behaviour in
// the conversion; let it through so that UBSan reports it).
std::optional<uint64_t> as_u64(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) return static_cast<uint64_t>(j.get<int64_t>());
  if (j.is_boolean()) return j.get<bool>() ? 1 : 0;
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (std::isfinite(d) && d > -1.0 && d < 18446744073709551616.0) return static_cast<uint64_t>(d);
  }
  return std::nullopt;
}

// True if open_keyfile would run Argon2 with parameters too costly for fuzzing.
bool too_slow(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object() || !j.contains("ops") || !j.contains("mem")) return false;
    auto ops = as_u64(j["ops"]);
    auto mem = as_u64(j["mem"]);
    if (!ops || !mem) return false;
    bool accepted = *ops >= 1 && *ops <= 100 && *mem >= 8192 && *mem <= (4ull << 30);
    return accepted && (*ops > 2 || *mem > (64u << 10));
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (too_slow(text)) return -1;  // -1: not added to the corpus
  try {
    crypto::Keys k = crypto::open_keyfile(text, fuzz::kPassphrase);
    FUZZ_CHECK(k.to_bytes().size() == 64);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kCorruption && e.kind() != ErrorKind::kInvalidInput) {
      fuzz_fail(__FILE__, __LINE__,
                (std::string("unexpected error kind ") + error_kind_name(e.kind()) + ": " + e.what()).c_str());
    }
  }
  return 0;
}
