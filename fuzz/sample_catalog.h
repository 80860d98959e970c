// The catalog the catalog fuzz targets and their seeds share (gen_corpus.cc builds seeds
// from it; fuzz_catalog_delta applies deltas to it).
#pragma once
#include <string>

#include "seshat/catalog/catalog.h"

namespace seshat::fuzz_sample {

inline catalog::Hash hash_of(uint8_t seed) {
  catalog::Hash h{};
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(seed * 31 + i);
  return h;
}

inline catalog::Version ver(uint32_t backup, catalog::Type type, uint32_t content = catalog::kNone, uint64_t size = 0) {
  catalog::Version v;
  v.backup = backup;
  v.type = type;
  v.mode = type == catalog::Type::kDir ? 0755 : 0644;
  v.uid = 1000;
  v.gid = 100;
  v.mtime_ns = 1564150070897000000 + backup;
  v.ctime_ns = v.mtime_ns + 1;
  v.inode = 4242 + backup;
  v.size = size;
  v.content = content;
  return v;
}

inline catalog::Catalog sample_catalog() {
  using catalog::Type;
  catalog::Catalog c;
  uint32_t h = c.find_or_add_host("bastet");
  uint32_t f = c.find_or_add_folder(h, "/home/adrian");
  uint32_t f2 = c.find_or_add_folder(c.find_or_add_host("osiris"), "/etc");
  uint32_t b0 = c.add_backup(f, 1564150070000000000);
  uint32_t b1 = c.add_backup(f, 1564236470000000000);
  uint32_t b2 = c.add_backup(f2, 1564236471000000000);
  c.backups[b0].complete = c.backups[b1].complete = true;
  uint32_t k = c.add_container("containers/SEF_bastet_home_20190726140750_000", 4096);
  catalog::BlobRef blob;
  blob.container = k;
  blob.offset = 16;
  blob.length = 32;
  blob.raw_size = 13;
  uint32_t content = c.add_content(hash_of(1), 13, {blob});
  blob.offset = 48;
  uint32_t content2 = c.add_content(hash_of(2), 26, {blob, blob});
  uint32_t root = c.folders[f].root;
  c.add_version(root, ver(b0, Type::kDir));
  uint32_t docs = c.add_entry(root, "docs");
  c.add_version(docs, ver(b0, Type::kDir));
  c.add_version(docs, ver(b1, Type::kDeleted));
  uint32_t notes = c.add_entry(docs, "notes.txt");
  c.add_version(notes, ver(b0, Type::kFile, content, 13));
  uint32_t a = c.add_entry(root, "a.txt");
  c.add_version(a, ver(b0, Type::kFile, content, 13));
  c.add_version(a, ver(b1, Type::kFile, content2, 26));
  uint32_t link = c.add_entry(root, "link");
  catalog::Version lv = ver(b1, Type::kSymlink);
  std::string target = "docs/notes.txt";
  lv.content = c.add_string(target);
  lv.size = target.size();
  c.add_version(link, lv);
  uint32_t root2 = c.folders[f2].root;
  c.add_version(root2, ver(b2, Type::kDir));
  c.add_version(c.add_entry(root2, "hosts"), ver(b2, Type::kFile, content, 13));
  return c;
}

// One more backup of the first folder: a new directory with a file, a changed file, a
// symlink, a FIFO with an extended attribute, a new host and folder, changes in place.
inline void grow_sample(catalog::Catalog& c) {
  using catalog::Type;
  uint32_t b = c.add_backup(0, 1564409270000000000);
  uint32_t k = c.add_container("containers/SEF_bastet_home_20190729140750_000", 0);
  catalog::BlobRef blob;
  blob.container = k;
  blob.offset = 16;
  blob.length = 40;
  blob.raw_size = 30;
  uint32_t content = c.add_content(hash_of(9), 30, {blob});
  uint32_t root = c.folders[0].root;
  c.add_version(root, ver(b, Type::kDir));
  uint32_t sub = c.add_entry(root, "new");
  c.add_version(sub, ver(b, Type::kDir));
  c.add_version(c.add_entry(sub, "file"), ver(b, Type::kFile, content, 30));
  catalog::Version lv = ver(b, Type::kSymlink);
  std::string target = "new/file";
  lv.content = c.add_string(target);
  lv.size = target.size();
  c.add_version(c.add_entry(sub, "link"), lv);
  catalog::Extra x;
  std::string xa = std::string("\x06user.k\x01v", 9);
  x.xattrs_off = c.add_string(xa);
  x.xattrs_len = static_cast<uint32_t>(xa.size());
  c.add_version(c.add_entry(sub, "fifo"), ver(b, Type::kFifo), x);
  uint32_t f3 = c.find_or_add_folder(c.find_or_add_host("thoth"), "/srv");
  c.add_version(c.folders[f3].root, ver(c.add_backup(f3, 1564409271000000000), Type::kDir));
  c.containers[k].size = 4096;
  c.backups[b].complete = true;
  c.backups[1].files_stored = 7;
  c.folders[1].automatic = false;
}

}  // namespace seshat::fuzz_sample
