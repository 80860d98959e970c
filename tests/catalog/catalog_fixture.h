// A small catalog shared by the catalog and codec tests: one host, two folders, four
// backups, a tree with files, a directory deleted and re-created, a symlink and contents.
#pragma once
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "seshat/catalog/catalog.h"

namespace seshat::catalog::test {

inline Hash hash_of(uint8_t seed, uint8_t tail = 0) {
  Hash h{};
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(seed * 31 + i);
  h[31] = tail;
  return h;
}

inline BlobRef blob(uint32_t container, uint64_t offset, uint32_t length) {
  BlobRef b;
  b.container = container;
  b.offset = offset;
  b.length = length;
  b.raw_size = length * 2;
  b.compressed = length % 2 == 0;
  for (size_t i = 0; i < b.iv.size(); ++i) b.iv[i] = static_cast<uint8_t>(offset + i);
  for (size_t i = 0; i < b.mac.size(); ++i) b.mac[i] = static_cast<uint8_t>(length + 3 * i);
  return b;
}

inline Version dir_version(uint32_t backup, int64_t mtime = 1000) {
  Version v;
  v.backup = backup;
  v.type = Type::kDir;
  v.mode = 0755;
  v.uid = 1000;
  v.gid = 1000;
  v.mtime_ns = mtime;
  v.ctime_ns = mtime + 1;
  v.inode = 77;
  return v;
}

inline Version file_version(uint32_t backup, uint32_t content, uint64_t size, int64_t mtime = 2000) {
  Version v;
  v.backup = backup;
  v.type = Type::kFile;
  v.mode = 0644;
  v.uid = 1000;
  v.gid = 100;
  v.mtime_ns = mtime;
  v.ctime_ns = mtime / 2 - 7;
  v.inode = 0xffffffffffull;
  v.size = size;
  v.content = content;
  return v;
}

inline Version tombstone(uint32_t backup) {
  Version v;
  v.backup = backup;
  v.type = Type::kDeleted;
  return v;
}

// The tree under /home/u (folder `home`), by backup:
//   b0: /home/u, docs/, docs/a.txt (c0), link -> docs/a.txt, zeta (c0)
//   b1: docs/a.txt changed (c1), docs/b.txt added (c1), Alpha added (c2)
//   b2: docs/ deleted (tombstones on docs, a.txt, b.txt), zeta deleted
//   b3: docs/ back with only docs/new.txt (c2); zeta back (c0)
// Folder `etc` (host "server", root "/") has /etc/passwd, in its own backup b4.
struct Sample {
  Catalog c;
  uint32_t host = 0, other_host = 0;
  uint32_t home = 0, etc = 0;
  uint32_t b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0;
  uint32_t root = 0, docs = 0, a = 0, b = 0, link = 0, zeta = 0, alpha = 0, newf = 0, etc_root = 0, etc_dir = 0,
           passwd = 0;
  uint32_t c0 = 0, c1 = 0, c2 = 0;
  // Version ids.
  uint32_t a_v0 = 0, a_v1 = 0, a_v2 = 0, docs_v0 = 0, docs_v2 = 0, docs_v3 = 0, zeta_v0 = 0, zeta_v2 = 0, zeta_v3 = 0;

  Sample() {
    host = c.find_or_add_host("laptop");
    other_host = c.find_or_add_host("server");
    home = c.find_or_add_folder(host, "/home/u");
    etc = c.find_or_add_folder(other_host, "/");
    c.folders[etc].automatic = false;
    b0 = c.add_backup(home, 1564150070897000000LL);
    b1 = c.add_backup(home, 1564236470000000000LL);
    b2 = c.add_backup(home, 1564322870000000000LL);
    b3 = c.add_backup(home, 1564409270000000000LL);
    b4 = c.add_backup(etc, -5);
    c.backups[b0].complete = true;
    c.backups[b0].files_stored = 3;
    c.backups[b0].bytes_stored = 12345678901ull;
    c.backups[b1].complete = true;
    c.backups[b3].complete = true;
    uint32_t k0 = c.add_container("containers/SEF_laptop_home_20190726140750_000", 1ull << 33);
    uint32_t k1 = c.add_container("containers/SEF_laptop_home_20190727140750_000", 4096);
    c0 = c.add_content(hash_of(0), 10, {blob(k0, 16, 32)});
    c1 = c.add_content(hash_of(1), 3000000, {blob(k0, 48, 1000), blob(k1, 16, 2000), blob(k1, 2016, 17)});
    c2 = c.add_content(hash_of(2), 0, {});

    root = c.folders[home].root;
    docs = c.add_entry(root, "docs");
    a = c.add_entry(docs, "a.txt");
    link = c.add_entry(root, "link");
    zeta = c.add_entry(root, "zeta");
    b = c.add_entry(docs, "b.txt");
    alpha = c.add_entry(root, "Alpha");
    newf = c.add_entry(docs, "new.txt");

    c.add_version(root, dir_version(b0));
    docs_v0 = c.add_version(docs, dir_version(b0));
    a_v0 = c.add_version(a, file_version(b0, c0, 10));
    Version lv;
    lv.backup = b0;
    lv.type = Type::kSymlink;
    lv.mode = 0777;
    lv.content = c.add_string("docs/a.txt");
    lv.size = 10;
    c.add_version(link, lv);
    zeta_v0 = c.add_version(zeta, file_version(b0, c0, 10));

    a_v1 = c.add_version(a, file_version(b1, c1, 3000000, 3000));
    c.add_version(b, file_version(b1, c1, 3000000));
    c.add_version(alpha, file_version(b1, c2, 0));

    docs_v2 = c.add_version(docs, tombstone(b2));
    a_v2 = c.add_version(a, tombstone(b2));
    c.add_version(b, tombstone(b2));
    zeta_v2 = c.add_version(zeta, tombstone(b2));

    docs_v3 = c.add_version(docs, dir_version(b3, 5000));
    c.add_version(newf, file_version(b3, c2, 0));
    zeta_v3 = c.add_version(zeta, file_version(b3, c0, 10, std::numeric_limits<int64_t>::min()));

    etc_root = c.folders[etc].root;
    etc_dir = c.add_entry(etc_root, "etc");
    passwd = c.add_entry(etc_dir, "passwd");
    c.add_version(etc_root, dir_version(b4));
    c.add_version(etc_dir, dir_version(b4));
    c.add_version(passwd, file_version(b4, c0, 10));

    c.build_child_index();
  }
};

}  // namespace seshat::catalog::test
