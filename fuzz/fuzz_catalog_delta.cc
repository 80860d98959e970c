// catalog::apply_delta on raw bytes, to a fixed catalog (fuzz/sample_catalog.h); the first
// byte picks a reader's strict apply (even) or a retrying writer's (odd).
//
// Contract checked: apply_delta throws only Error(kCorruption) or, for a retry, kLocked; a
// delta it rejects leaves the catalog exactly as it was (all or nothing); what it accepts is
// a catalog that encodes, decodes to the same bytes and answers the queries without going out
// of range; and a delta re-made from the result applies strictly to the base again.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "sample_catalog.h"
#include "seshat/catalog/codec.h"
#include "seshat/util/error.h"

using namespace seshat;
using namespace seshat::catalog;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const Catalog base = fuzz_sample::sample_catalog();
  static const std::string base_bytes = encode(base);
  const bool exact = (data[0] & 1) == 0;
  std::string_view delta(reinterpret_cast<const char*>(data) + 1, size - 1);
  Catalog c = base;
  const Mark m = c.mark();
  try {
    apply_delta(c, delta, exact);
  } catch (const Error& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kCorruption || (!exact && e.kind() == ErrorKind::kLocked));
    FUZZ_CHECK(encode(c) == base_bytes);
    return 0;
  }
  std::string again = encode(c);
  Catalog d;
  try {
    d = decode(again);
  } catch (const Error& e) {
    fuzz_fail(__FILE__, __LINE__, (std::string("catalog after a delta rejected: ") + e.what()).c_str());
  }
  FUZZ_CHECK(encode(d) == again);
  c.build_child_index();
  for (uint32_t e = 0; e < c.entries.size(); ++e) {
    (void)c.path(e);
    for (uint32_t b = 0; b < c.backups.size(); ++b) (void)c.version_at(e, b);
  }
  for (uint32_t f = 0; f < c.folders.size(); ++f) {
    FUZZ_CHECK(c.folders[f].host < c.hosts.size() && c.folders[f].root < c.entries.size());
    for (uint32_t b = 0; b < c.backups.size() && b < 64; ++b)
      c.for_each_at(c.folders[f].root, b, [&](uint32_t, uint32_t v) {
        if (c.versions[v].type == Type::kSymlink) (void)c.symlink_target(c.versions[v]);
        (void)c.xattrs(v);
      });
  }
  // The same change, made again from the result, is a delta the base takes strictly.
  std::string remade = encode_delta(c, m);
  Catalog e = base;
  try {
    apply_delta(e, remade, true);
  } catch (const Error& err) {
    fuzz_fail(__FILE__, __LINE__, (std::string("a re-made delta was rejected: ") + err.what()).c_str());
  }
  FUZZ_CHECK(encode(e) == again);
  return 0;
}
