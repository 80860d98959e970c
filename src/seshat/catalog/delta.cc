// Deltas (doc/format/catalog.md, "Deltas"): what a catalog added and changed since a mark.
#include <cstring>

#include "seshat/catalog/codec.h"
#include "seshat/catalog/records.h"
#include "seshat/util/error.h"

namespace seshat::catalog {

using namespace detail;

namespace {

constexpr char kDeltaMagic[4] = {'S', 'D', 'L', 'T'};

// For each version added since `m`, its entry (a version records only its predecessor).
std::vector<uint32_t> entries_of_new_versions(const Catalog& c, const Mark& m) {
  std::vector<uint32_t> out(c.versions.size() - m.versions, kNone);
  for (uint32_t e = 0; e < c.entries.size(); ++e)
    for (uint32_t v = c.entries[e].latest; v != kNone && v >= m.versions; v = c.versions[v].prev)
      out[v - m.versions] = e;
  return out;
}

[[noreturn]] void not_a_delta_of(const char* what) {
  throw Error(ErrorKind::kPermanent, std::string("internal error: the catalog is not an extension of its mark (") +
                                         what + "); the DB was not saved");
}

}  // namespace

std::string encode_delta(const Catalog& c, const Mark& m) {
  if (!c.extends(m) || m.backup_records.size() != m.backups || m.container_sizes.size() != m.containers ||
      m.folder_automatic.size() != m.folders)
    not_a_delta_of("a table is smaller");
  ByteWriter w;
  w.bytes(std::string_view(kDeltaMagic, 4));
  w.u32(kDeltaFormatVersion);
  for (size_t n :
       {m.hosts, m.folders, m.backups, m.containers, m.blobs, m.contents, m.entries, m.versions, m.extras, m.arena})
    w.varint(n);
  w.str(std::string_view(c.arena).substr(m.arena));
  w.varint(c.hosts.size() - m.hosts);
  for (size_t i = m.hosts; i < c.hosts.size(); ++i) w.str(c.hosts[i].name);
  std::vector<uint32_t> changed;
  for (uint32_t i = 0; i < m.folders; ++i)
    if (c.folders[i].automatic != (m.folder_automatic[i] != 0)) changed.push_back(i);
  w.varint(changed.size());
  for (uint32_t i : changed) {
    w.varint(i);
    w.u8(c.folders[i].automatic ? 1 : 0);
  }
  w.varint(c.folders.size() - m.folders);
  for (size_t i = m.folders; i < c.folders.size(); ++i) put_folder(w, c.folders[i]);
  changed.clear();
  for (uint32_t i = 0; i < m.backups; ++i) {
    const Backup &now = c.backups[i], &then = m.backup_records[i];
    if (now.folder != then.folder) not_a_delta_of("a backup changed its folder");
    if (now.time_ns != then.time_ns || now.complete != then.complete || now.files_stored != then.files_stored ||
        now.bytes_stored != then.bytes_stored)
      changed.push_back(i);
  }
  w.varint(changed.size());
  for (uint32_t i : changed) {
    w.varint(i);
    put_backup(w, c.backups[i]);
  }
  w.varint(c.backups.size() - m.backups);
  for (size_t i = m.backups; i < c.backups.size(); ++i) put_backup(w, c.backups[i]);
  changed.clear();
  for (uint32_t i = 0; i < m.containers; ++i)
    if (c.containers[i].size != m.container_sizes[i]) changed.push_back(i);
  w.varint(changed.size());
  for (uint32_t i : changed) {
    w.varint(i);
    w.varint(c.containers[i].size);
  }
  w.varint(c.containers.size() - m.containers);
  for (size_t i = m.containers; i < c.containers.size(); ++i) {
    w.str(c.containers[i].name);
    w.varint(c.containers[i].size);
  }
  w.varint(c.blobs.size() - m.blobs);
  for (size_t i = m.blobs; i < c.blobs.size(); ++i) put_blob(w, c.blobs[i]);
  w.varint(c.contents.size() - m.contents);
  for (size_t i = m.contents; i < c.contents.size(); ++i) put_content(w, c.contents[i]);
  w.varint(c.entries.size() - m.entries);
  for (size_t i = m.entries; i < c.entries.size(); ++i) {
    w.varint(opt(c.entries[i].parent));
    w.varint(c.entries[i].name_off);
    w.varint(c.entries[i].name_len);
  }
  std::vector<uint32_t> owner = entries_of_new_versions(c, m);
  w.varint(owner.size());
  for (size_t i = 0; i < owner.size(); ++i) {
    if (owner[i] == kNone) not_a_delta_of("a version is not on its entry's chain");
    const Version& v = c.versions[m.versions + i];
    w.varint(owner[i]);
    w.varint(v.backup);
    put_version_body(w, v);
  }
  w.varint(c.extras.size() - m.extras);
  for (size_t i = m.extras; i < c.extras.size(); ++i) {
    if (c.extras[i].version < m.versions) not_a_delta_of("an older version got an extra");
    put_extra(w, c.extras[i]);
  }
  return std::move(w.data());
}

namespace {

// Applying one delta: the writer's mark `m`, the catalog's state `before`.
struct DeltaApply {
  Catalog& c;
  ByteReader& r;
  const Mark& m;
  const Mark& before;
  bool exact;
  std::vector<uint32_t> host_of;  // the delta's new hosts, as placed here

  // A reference made by the writer: below its mark, a record that was there (and still is);
  // from it, one the delta adds, now placed after what the catalog holds.
  static uint64_t map(uint64_t x, size_t mark_n, size_t now_n) { return x < mark_n ? x : x - mark_n + now_n; }
  uint32_t arena_ref(uint64_t off) const { return u32_of(map(off, m.arena, before.arena)); }

  // Hosts, folders, backups and containers: new ones and changes in place.
  void records() {
    for (uint64_t n = r.count(1); n; --n) host_of.push_back(c.find_or_add_host(std::string(r.str())));
    for (uint64_t n = r.count(2); n; --n) {
      uint64_t i = r.varint();
      if (i >= m.folders) corrupt("bad folder reference");
      c.folders[i].automatic = r.u8() != 0;
    }
    for (uint64_t n = r.count(4); n; --n) {
      Folder f = get_folder(r);
      if (f.host >= m.hosts) {
        if (f.host - m.hosts >= host_of.size()) corrupt("bad host reference");
        f.host = host_of[f.host - m.hosts];
      }
      if (f.root != kNone) f.root = u32_of(map(f.root, m.entries, before.entries));
      if (c.find_folder(f.host, f.path)) {
        if (exact) corrupt("a folder recorded twice");
        throw Error(ErrorKind::kLocked, "another backup of " + f.path + " was saved at the same time");
      }
      c.folders.push_back(std::move(f));
    }
    for (uint64_t n = r.count(6); n; --n) {
      uint64_t i = r.varint();
      if (i >= m.backups) corrupt("bad backup reference");
      Backup b = get_backup(r);
      if (b.folder != c.backups[i].folder) corrupt("a backup changed its folder");
      c.backups[i] = b;
    }
    for (uint64_t n = r.count(5); n; --n) {
      Backup b = get_backup(r);
      b.folder = u32_of(map(b.folder, m.folders, before.folders));
      c.backups.push_back(b);
    }
    for (uint64_t n = r.count(2); n; --n) {
      uint64_t i = r.varint();
      if (i >= m.containers) corrupt("bad container reference");
      c.containers[i].size = r.varint();
    }
    for (uint64_t n = r.count(2); n; --n) {
      Container k;
      k.name = std::string(r.str());
      k.size = r.varint();
      c.containers.push_back(std::move(k));
    }
  }

  // Blobs, contents, entries, versions (each onto its entry's chain) and extras.
  void data() {
    for (uint64_t n = r.count(53); n; --n) {
      BlobRef b = get_blob(r);
      b.container = u32_of(map(b.container, m.containers, before.containers));
      c.blobs.push_back(b);
    }
    for (uint64_t n = r.count(35); n; --n) {
      Content k = get_content(r);
      k.first_blob = u32_of(map(k.first_blob, m.blobs, before.blobs));
      c.contents.push_back(k);
    }
    for (uint64_t n = r.count(3); n; --n) {
      Entry e;
      e.parent = unopt(r.varint());
      if (e.parent != kNone) e.parent = u32_of(map(e.parent, m.entries, before.entries));
      e.name_off = arena_ref(r.varint());
      e.name_len = u32_of(r.varint());
      c.entries.push_back(e);
    }
    size_t flagged = 0;
    for (uint64_t n = r.count(13); n; --n) {
      uint64_t e = map(r.varint(), m.entries, before.entries);
      if (e >= c.entries.size()) corrupt("bad entry reference");
      Version v;
      v.backup = u32_of(map(r.varint(), m.backups, before.backups));
      get_version_body(r, v, kFormatVersion);
      if (v.type == Type::kFile && v.content != kNone) v.content = u32_of(map(v.content, m.contents, before.contents));
      if (v.type == Type::kSymlink && v.content != kNone) v.content = arena_ref(v.content);
      flagged += (v.flags & kExtra) != 0;
      v.prev = c.entries[e].latest;
      c.versions.push_back(v);
      c.entries[e].latest = static_cast<uint32_t>(c.versions.size() - 1);
    }
    for (uint64_t n = r.count(9); n; --n) {
      Extra x = get_extra(r);
      x.version = u32_of(map(x.version, m.versions, before.versions));
      if (x.xattrs_len) x.xattrs_off = arena_ref(x.xattrs_off);
      if (x.version < before.versions || x.version >= c.versions.size() || !(c.versions[x.version].flags & kExtra) ||
          (c.extras.size() > before.extras && c.extras.back().version >= x.version))
        corrupt("bad extra reference");
      if (uint64_t{x.xattrs_off} + x.xattrs_len > c.arena.size()) corrupt("bad extended attributes reference");
      c.extras.push_back(x);
    }
    if (flagged != c.extras.size() - before.extras) corrupt("version without its extra");
  }
};

bool same_counts(const Mark& a, const Mark& b) {
  return a.hosts == b.hosts && a.folders == b.folders && a.backups == b.backups && a.containers == b.containers &&
         a.blobs == b.blobs && a.contents == b.contents && a.entries == b.entries && a.versions == b.versions &&
         a.extras == b.extras && a.arena == b.arena;
}

}  // namespace

void apply_delta(Catalog& c, std::string_view data, bool exact) {
  ByteReader r(data);
  if (data.size() < 8 || std::memcmp(data.data(), kDeltaMagic, 4) != 0) corrupt("bad delta magic");
  r.bytes(4);
  if (r.u32() != kDeltaFormatVersion) corrupt("unsupported delta format version");
  // The state the writer made the delta from, and the one it is applied to.
  Mark m;
  for (size_t* n : {&m.hosts, &m.folders, &m.backups, &m.containers, &m.blobs, &m.contents, &m.entries, &m.versions,
                    &m.extras, &m.arena})
    *n = r.varint();
  const Mark before = c.mark();
  if (exact ? !same_counts(before, m) : !c.extends(m))
    corrupt("the delta does not follow the catalog it is applied to");
  try {
    std::string_view more = r.str();
    if (c.arena.size() + more.size() > 0xffffffffull) corrupt("name space too large");
    c.arena.append(more);
    DeltaApply a{c, r, m, before, exact, {}};
    a.records();
    a.data();
    if (!r.done()) corrupt("trailing bytes");
    check_refs(c, before);
  } catch (...) {
    c.rollback(before);
    throw;
  }
}

}  // namespace seshat::catalog
