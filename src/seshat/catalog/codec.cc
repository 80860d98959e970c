#include "seshat/catalog/codec.h"

#include <sys/mman.h>

#include <cstring>

#include "seshat/catalog/records.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"

namespace seshat::catalog {
namespace detail {

constexpr char kMagic[4] = {'S', 'C', 'A', 'T'};

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::kCorruption, "catalog is damaged: " + what);
}

void check_ref(uint64_t v, size_t limit, const char* what, bool allow_none = false) {
  if (allow_none && v == kNone) return;
  if (v >= limit) corrupt(std::string("bad ") + what + " reference");
}

template <size_t N>
void put_array(ByteWriter& w, const std::array<uint8_t, N>& a) {
  w.bytes(std::string_view(reinterpret_cast<const char*>(a.data()), N));
}
template <size_t N>
void get_array(ByteReader& r, std::array<uint8_t, N>& a) {
  std::memcpy(a.data(), r.bytes(N).data(), N);
}

// kNone is stored as 0, everything else as value + 1.
uint64_t opt(uint32_t v) { return v == kNone ? 0 : uint64_t{v} + 1; }
uint32_t unopt(uint64_t v) {
  if (v > 0xffffffffull) corrupt("reference too large");
  return v == 0 ? kNone : static_cast<uint32_t>(v - 1);
}
uint32_t u32_of(uint64_t v) {
  if (v > 0xffffffffull) corrupt("number too large");
  return static_cast<uint32_t>(v);
}

// Big arrays filled right after they are reserved: on this kind of machine most of a
// decode's time is page faults on fresh memory, and 2 MB pages take 512 times fewer. Only
// a hint (transparent huge pages in "madvise" mode); ignored where unsupported.
void advise_huge_pages(const void* p, size_t bytes) {
  constexpr uintptr_t kPage = 4096;
  if (bytes < (8u << 20)) return;
  uintptr_t start = (reinterpret_cast<uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kPage - 1);
  if (end > start) ::madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
}

// ---- records shared by whole catalogs and deltas

void put_blob(ByteWriter& w, const BlobRef& b) {
  w.varint(b.container);
  w.varint(b.offset);
  w.varint(b.length);
  w.varint(b.raw_size);
  w.u8(b.compressed ? 1 : 0);
  put_array(w, b.iv);
  put_array(w, b.mac);
}
BlobRef get_blob(ByteReader& r) {
  BlobRef b;
  b.container = u32_of(r.varint());
  b.offset = r.varint();
  b.length = u32_of(r.varint());
  b.raw_size = u32_of(r.varint());
  b.compressed = r.u8() != 0;
  get_array(r, b.iv);
  get_array(r, b.mac);
  return b;
}
void put_content(ByteWriter& w, const Content& k) {
  put_array(w, k.hash);
  w.varint(k.size);
  w.varint(k.first_blob);
  w.varint(k.blob_count);
}
Content get_content(ByteReader& r) {
  Content k;
  get_array(r, k.hash);
  k.size = r.varint();
  k.first_blob = u32_of(r.varint());
  k.blob_count = u32_of(r.varint());
  return k;
}
void put_folder(ByteWriter& w, const Folder& f) {
  w.varint(f.host);
  w.str(f.path);
  w.varint(opt(f.root));
  w.u8(f.automatic ? 1 : 0);
}
Folder get_folder(ByteReader& r) {
  Folder f;
  f.host = u32_of(r.varint());
  f.path = std::string(r.str());
  f.root = unopt(r.varint());
  f.automatic = r.u8() != 0;
  return f;
}
void put_backup(ByteWriter& w, const Backup& b) {
  w.varint(b.folder);
  w.svarint(b.time_ns);
  w.u8(b.complete ? 1 : 0);
  w.varint(b.files_stored);
  w.varint(b.bytes_stored);
}
Backup get_backup(ByteReader& r) {
  Backup b;
  b.folder = u32_of(r.varint());
  b.time_ns = r.svarint();
  b.complete = r.u8() != 0;
  b.files_stored = r.varint();
  b.bytes_stored = r.varint();
  return b;
}
// A version after its backup and prev fields (a delta names the entry instead of prev).
void put_version_body(ByteWriter& w, const Version& v) {
  w.u8(static_cast<uint8_t>(v.type));
  w.u8(v.flags);
  w.varint(v.mode);
  w.varint(v.uid);
  w.varint(v.gid);
  w.svarint(v.mtime_ns);
  w.svarint(v.ctime_ns);
  w.varint(v.inode);
  w.varint(v.size);
  w.varint(opt(v.content));
  w.varint(v.type == Type::kSymlink ? v.size : 0);  // the target's length
}
void get_version_body(ByteReader& r, Version& v, uint32_t format) {
  uint8_t t = r.u8();
  if (t < 1 || t > (format == 1 ? 4 : 8)) corrupt("bad version type");
  v.type = static_cast<Type>(t);
  if (format >= 2) {
    v.flags = r.u8();
    if (v.flags & ~(kLinked | kExtra | kSparse | kLegacy)) corrupt("bad version flags");
  } else {
    v.flags = kLegacy;
  }
  uint64_t mode = r.varint();
  if (mode > 0xffff) corrupt("bad mode");
  v.mode = static_cast<uint16_t>(mode);
  v.uid = u32_of(r.varint());
  v.gid = u32_of(r.varint());
  v.mtime_ns = r.svarint();
  v.ctime_ns = r.svarint();
  v.inode = r.varint();
  v.size = r.varint();
  v.content = unopt(r.varint());
  uint64_t target_len = r.varint();
  if (v.type == Type::kSymlink) v.size = target_len;  // in memory, size is the target's length
}
void put_extra(ByteWriter& w, const Extra& x) {
  w.varint(x.version);
  w.varint(x.dev);
  w.varint(x.rdev);
  w.u8(x.wide_mtime ? 1 : 0);
  w.svarint(x.mtime_sec);
  w.varint(x.mtime_nsec);
  w.varint(x.fs_flags);
  w.varint(x.xattrs_off);
  w.varint(x.xattrs_len);
}
Extra get_extra(ByteReader& r) {
  Extra x;
  x.version = u32_of(r.varint());
  x.dev = r.varint();
  x.rdev = r.varint();
  x.wide_mtime = r.u8() != 0;
  x.mtime_sec = r.svarint();
  uint64_t nsec = r.varint();
  if (nsec >= 1000000000) corrupt("bad time");
  x.mtime_nsec = static_cast<uint32_t>(nsec);
  x.fs_flags = u32_of(r.varint());
  x.xattrs_off = u32_of(r.varint());
  x.xattrs_len = u32_of(r.varint());
  return x;
}

// Extras: sorted by version, each for a version flagged kExtra, every version so flagged
// has one, xattrs inside the arena.
void decode_extras(ByteReader& r, Catalog& c) {
  uint64_t n = r.count(9);
  c.extras.reserve(n);
  for (; n; --n) {
    Extra x = get_extra(r);
    if (x.version >= c.versions.size() || !(c.versions[x.version].flags & kExtra) ||
        (!c.extras.empty() && c.extras.back().version >= x.version))
      corrupt("bad extra reference");
    if (uint64_t{x.xattrs_off} + x.xattrs_len > c.arena.size()) corrupt("bad extended attributes reference");
    c.extras.push_back(x);
  }
  size_t flagged = 0;
  for (const auto& v : c.versions) flagged += (v.flags & kExtra) != 0;
  if (flagged != c.extras.size()) corrupt("version without its extra");
}

// The versions and their extras, the bulk of a catalog.
void encode_versions(const Catalog& c, ByteWriter& w, const std::function<void(bool)>& flush) {
  w.varint(c.versions.size());
  for (const auto& v : c.versions) {
    flush(false);
    w.varint(v.backup);
    w.varint(opt(v.prev));
    put_version_body(w, v);
  }
  w.varint(c.extras.size());
  for (const auto& x : c.extras) {
    flush(false);
    put_extra(w, x);
  }
}

// Every reference of the records added since `from` must point inside its table, so that
// queries never index out of range.
void check_refs(const Catalog& c, const Mark& from) {
  for (size_t i = from.folders; i < c.folders.size(); ++i) {
    check_ref(c.folders[i].host, c.hosts.size(), "host");
    check_ref(c.folders[i].root, c.entries.size(), "folder root");
  }
  for (size_t i = from.backups; i < c.backups.size(); ++i) check_ref(c.backups[i].folder, c.folders.size(), "folder");
  for (size_t i = from.blobs; i < c.blobs.size(); ++i)
    check_ref(c.blobs[i].container, c.containers.size(), "container");
  for (size_t i = from.contents; i < c.contents.size(); ++i)
    if (uint64_t{c.contents[i].first_blob} + c.contents[i].blob_count > c.blobs.size()) corrupt("bad blob range");
  for (size_t i = from.entries; i < c.entries.size(); ++i) {
    const auto& e = c.entries[i];
    // Parents come before children, which also rules out cycles.
    if (e.parent != kNone && e.parent >= i) corrupt("bad parent reference");
    if (uint64_t{e.name_off} + e.name_len > c.arena.size()) corrupt("bad name reference");
    check_ref(e.latest, c.versions.size(), "version", true);
  }
  for (size_t i = from.versions; i < c.versions.size(); ++i) {
    const auto& v = c.versions[i];
    check_ref(v.backup, c.backups.size(), "backup");
    if (v.prev != kNone && v.prev >= i) corrupt("bad version chain");
    if (v.type == Type::kFile) check_ref(v.content, c.contents.size(), "content");
    if (v.type == Type::kSymlink &&
        (v.content == kNone || v.size > c.arena.size() || uint64_t{v.content} + v.size > c.arena.size()))
      corrupt("bad symlink target");
  }
}

}  // namespace detail

using namespace detail;

void encode_to(const Catalog& c, const std::function<void(std::string_view)>& sink) {
  ByteWriter w;
  // Hands what is encoded so far to the sink once it passes 1 MB.
  auto flush = [&](bool always) {
    if (w.data().size() >= (1u << 20) || (always && !w.data().empty())) {
      sink(w.data());
      w.data().clear();
    }
  };
  w.bytes(std::string_view(kMagic, 4));
  w.u32(kFormatVersion);
  w.str(c.arena);
  flush(true);
  w.varint(c.hosts.size());
  for (const auto& h : c.hosts) w.str(h.name);
  w.varint(c.folders.size());
  for (const auto& f : c.folders) put_folder(w, f);
  w.varint(c.backups.size());
  for (const auto& b : c.backups) put_backup(w, b);
  w.varint(c.containers.size());
  for (const auto& k : c.containers) {
    w.str(k.name);
    w.varint(k.size);
  }
  w.varint(c.blobs.size());
  for (const auto& b : c.blobs) {
    flush(false);
    put_blob(w, b);
  }
  w.varint(c.contents.size());
  for (const auto& k : c.contents) {
    flush(false);
    put_content(w, k);
  }
  w.varint(c.entries.size());
  for (const auto& e : c.entries) {
    flush(false);
    w.varint(opt(e.parent));
    w.varint(e.name_off);
    w.varint(e.name_len);
    w.varint(opt(e.latest));
  }
  encode_versions(c, w, flush);
  flush(true);
}

std::string encode(const Catalog& c) {
  std::string out;
  encode_to(c, [&](std::string_view piece) { out.append(piece); });
  return out;
}

Catalog decode(std::string_view data) {
  ByteReader r(data);
  if (data.size() < 8 || std::memcmp(data.data(), kMagic, 4) != 0) corrupt("bad magic");
  r.bytes(4);
  // Version 1 (before special files, flags and extras) is read as well: a store written by
  // an older Seshat opens, and its next save writes version 2.
  const uint32_t format = r.u32();
  if (format != kFormatVersion && format != 1) corrupt("unsupported format version");
  Catalog c;
  c.arena = std::string(r.str());
  for (uint64_t n = r.count(1); n; --n) c.hosts.push_back({std::string(r.str())});
  for (uint64_t n = r.count(4); n; --n) c.folders.push_back(get_folder(r));
  for (uint64_t n = r.count(5); n; --n) c.backups.push_back(get_backup(r));
  for (uint64_t n = r.count(2); n; --n) {
    Container k;
    k.name = std::string(r.str());
    k.size = r.varint();
    c.containers.push_back(std::move(k));
  }
  uint64_t nblobs = r.count(53);
  c.blobs.reserve(nblobs);
  advise_huge_pages(c.blobs.data(), c.blobs.capacity() * sizeof(c.blobs[0]));
  for (uint64_t n = nblobs; n; --n) c.blobs.push_back(get_blob(r));
  uint64_t ncontents = r.count(35);
  c.contents.reserve(ncontents);
  advise_huge_pages(c.contents.data(), c.contents.capacity() * sizeof(c.contents[0]));
  for (uint64_t n = ncontents; n; --n) c.contents.push_back(get_content(r));
  uint64_t nentries = r.count(4);
  c.entries.reserve(nentries);
  advise_huge_pages(c.entries.data(), c.entries.capacity() * sizeof(c.entries[0]));
  for (uint64_t n = nentries; n; --n) {
    Entry e;
    e.parent = unopt(r.varint());
    e.name_off = u32_of(r.varint());
    e.name_len = u32_of(r.varint());
    e.latest = unopt(r.varint());
    c.entries.push_back(e);
  }
  uint64_t nversions = r.count(12);
  c.versions.reserve(nversions);
  advise_huge_pages(c.versions.data(), c.versions.capacity() * sizeof(c.versions[0]));
  for (uint64_t n = nversions; n; --n) {
    Version v;
    v.backup = u32_of(r.varint());
    v.prev = unopt(r.varint());
    get_version_body(r, v, format);
    c.versions.push_back(v);
  }
  if (format >= 2) decode_extras(r, c);
  if (!r.done()) corrupt("trailing bytes");

  check_refs(c, Mark{});
  return c;
}

}  // namespace seshat::catalog
