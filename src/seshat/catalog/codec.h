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

// What encode_delta writes (doc/format/catalog.md, "Deltas").
constexpr uint32_t kDeltaFormatVersion = 3;

// A delta: what was added to `catalog` since the mark `since` and what was changed in place
// (backups' records, containers' sizes, folders' AUTOMATIC flag). A few bytes when little
// changed, however large the catalog. Throws Error(kPermanent) if the catalog does not extend
// the mark (a table shrank: it was replaced, and must be saved whole).
std::string encode_delta(const Catalog& catalog, const Mark& since);
// Applies a delta. With `exact` the catalog must be the very state the delta was made from
// (reading the store); otherwise (a writer's retry after another writer's commit) it may have
// grown since, and what the delta adds is placed after what is there: a host of the same
// name is the same host; a folder both added is Error(kLocked). All or nothing: on any error
// the catalog is as it was. Throws Error(kCorruption) on anything malformed, as decode does.
void apply_delta(Catalog& catalog, std::string_view delta, bool exact);

}  // namespace seshat::catalog
