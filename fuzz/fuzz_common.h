// Shared by the fuzz targets and the corpus generator: the fixed key and passphrase the seed
// corpora are made with, and a check that turns a broken invariant into a crash.
#pragma once
#include <sanitizer/common_interface_defs.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "seshat/crypto/crypto.h"

namespace seshat::fuzz {

// 64 fixed bytes (0x00, 0x01, ... 0x3f): AES key then HMAC key.
inline const crypto::Keys& fixed_keys() {
  static const crypto::Keys keys = [] {
    std::string b(64, '\0');
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>(i);
    return crypto::Keys::from_bytes(b);
  }();
  return keys;
}

inline constexpr const char* kPassphrase = "correct horse battery staple";

}  // namespace seshat::fuzz

// Reports a broken invariant and aborts (a crash to libFuzzer). The message goes through the
// sanitizer's report channel as well, which survives -close_fd_mask=2.
[[noreturn]] inline void fuzz_fail(const char* file, int line, const char* what) {
  char msg[512];
  std::snprintf(msg, sizeof msg, "FUZZ_CHECK failed at %s:%d: %s", file, line, what);
  std::fprintf(stderr, "%s\n", msg);
  __sanitizer_report_error_summary(msg);
  std::abort();
}

// An invariant the code under test promises.
#define FUZZ_CHECK(cond)                               \
  do {                                                 \
    if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond); \
  } while (0)
