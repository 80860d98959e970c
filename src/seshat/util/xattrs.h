// A file's extended attributes as one string: the catalog keeps it in its arena, the fs
// layer reads and sets it. Encoding (doc/format/catalog.md): for each attribute, sorted by
// name, varint name length, name, varint value length, value.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seshat::xattrs {

using List = std::vector<std::pair<std::string, std::string>>;

// Sorts by name.
std::string encode(List list);
// Throws Error(kCorruption) on malformed input.
List decode(std::string_view encoded);

}  // namespace seshat::xattrs
