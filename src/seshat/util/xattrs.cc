#include "seshat/util/xattrs.h"

#include <algorithm>

#include "seshat/util/bytes.h"

namespace seshat::xattrs {

std::string encode(List list) {
  std::sort(list.begin(), list.end());
  ByteWriter w;
  for (const auto& [name, value] : list) {
    w.str(name);
    w.str(value);
  }
  return w.take();
}

List decode(std::string_view encoded) {
  ByteReader r(encoded);
  List out;
  while (!r.done()) {
    std::string name(r.str());
    std::string value(r.str());
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

}  // namespace seshat::xattrs
