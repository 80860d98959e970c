// catalog::decode on raw bytes; on a catalog it accepts, the queries the shell and restore
// run must not crash: build_child_index, path() of every entry, children(), lookup(), and
// for_each_at on every folder root at every backup (bounded, see kVisitBudget), following
// each version to its content, blobs and container or its symlink target.
//
// Contract checked: decode throws only Error(kCorruption); what it accepts re-encodes to
// something it accepts again, and that encoding is stable.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "seshat/catalog/codec.h"
#include "seshat/util/error.h"

using namespace seshat;
using namespace seshat::catalog;

namespace {

// for_each_at is O(entries) per call and there are folders x backups calls; stop starting
// new ones after this many visits so that one input cannot take seconds.
constexpr size_t kVisitBudget = 200000;

void follow(const Catalog& c, uint32_t version) {
  FUZZ_CHECK(version < c.versions.size());
  const Version& v = c.versions[version];
  FUZZ_CHECK(v.backup < c.backups.size());
  FUZZ_CHECK(c.backups[v.backup].folder < c.folders.size());
  if (v.type == Type::kFile) {
    FUZZ_CHECK(v.content < c.contents.size());
    const Content& k = c.contents[v.content];
    for (uint32_t i = 0; i < k.blob_count; ++i) {
      const BlobRef& b = c.blobs.at(uint64_t{k.first_blob} + i);
      FUZZ_CHECK(b.container < c.containers.size());
      volatile size_t n = c.containers[b.container].name.size();
      (void)n;
    }
  } else if (v.type == Type::kSymlink) {
    volatile size_t n = c.symlink_target(v).size();
    (void)n;
  }
}

void query(Catalog& c) {
  c.build_child_index();
  FUZZ_CHECK(c.child_index_current());
  for (uint32_t e = 0; e < c.entries.size(); ++e) {
    std::string p = c.path(e);
    (void)c.name(e);
    auto [b, end] = c.children(e);
    for (const uint32_t* it = b; it != end; ++it) FUZZ_CHECK(*it < c.entries.size() && c.entries[*it].parent == e);
    if (c.entries[e].latest != kNone) follow(c, c.entries[e].latest);
  }
  for (uint32_t f = 0; f < c.folders.size(); ++f) {
    FUZZ_CHECK(c.folders[f].host < c.hosts.size());
    FUZZ_CHECK(c.folders[f].root < c.entries.size());
    (void)c.lookup(f, c.folders[f].path);
    (void)c.lookup(f, c.folders[f].path + "/x/y");
    (void)c.lookup(f, c.path(c.folders[f].root));
  }
  size_t visits = 0;
  for (uint32_t f = 0; f < c.folders.size() && visits < kVisitBudget; ++f) {
    for (uint32_t b = 0; b < c.backups.size() && visits < kVisitBudget; ++b) {
      c.for_each_at(c.folders[f].root, b, [&](uint32_t e, uint32_t v) {
        ++visits;
        FUZZ_CHECK(e < c.entries.size());
        FUZZ_CHECK(v == c.version_at(e, b));
        FUZZ_CHECK(c.versions[v].backup <= b);
        FUZZ_CHECK(c.versions[v].type != Type::kDeleted);
        follow(c, v);
        // What RESTORE ADD FOLDER and LIST FILES do below a directory.
        auto [first, last] = c.children(e);
        for (const uint32_t* it = first; it != last; ++it) {
          uint32_t cv = c.version_at(*it, b);
          if (cv != kNone) follow(c, cv);
        }
      });
    }
  }
  volatile size_t m = c.memory_bytes();
  (void)m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Catalog c;
  try {
    c = decode(in);
  } catch (const Error& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kCorruption);
    return 0;
  }
  std::string again = encode(c);
  Catalog c2;
  try {
    c2 = decode(again);
  } catch (const Error& e) {
    fuzz_fail(__FILE__, __LINE__, (std::string("re-encoded catalog rejected: ") + e.what()).c_str());
  }
  FUZZ_CHECK(encode(c2) == again);
  query(c);
  return 0;
}
