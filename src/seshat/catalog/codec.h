// The catalog's binary encoding (doc/format/catalog.md). Compression and encryption are
// added by the repo module; this is the plaintext record layout only.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "seshat/catalog/catalog.h"

namespace seshat::catalog {

// What encode writes; decode also reads version 1.
constexpr uint32_t kFormatVersion = 2;

std::string encode(const Catalog& catalog);
// The same bytes handed to `sink` in pieces of about 1 MB, so that the whole never needs
// to be in memory.
void encode_to(const Catalog& catalog, const std::function<void(std::string_view)>& sink);
// Throws Error(kCorruption) on anything malformed: bad magic, unknown version, counts or
// references out of range, trailing bytes.
Catalog decode(std::string_view data);

}  // namespace seshat::catalog
