// What is at a restore's destination already: compared with the version to restore
// (restore.h), so that a restore never replaces what it must keep.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "seshat/fs/fs.h"
#include "seshat/repo/content_hash.h"
#include "seshat/restore/dest_dirs.h"
#include "seshat/restore/restore.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"

namespace seshat::restore {

using catalog::Type;

uint32_t format_of(Type t) {
  switch (t) {
    case Type::kFifo:
      return S_IFIFO;
    case Type::kCharDev:
      return S_IFCHR;
    case Type::kBlockDev:
      return S_IFBLK;
    case Type::kSocket:
      return S_IFSOCK;
    default:
      return 0;
  }
}

namespace {

bool same_time(const struct stat& st, const catalog::Mtime& t) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) == t.sec && static_cast<uint32_t>(st.st_mtim.tv_nsec) == t.nsec;
}

Existing compare_special(const catalog::Catalog& cat, uint32_t version, const struct stat& st, bool check_owner) {
  const catalog::Version& v = cat.versions[version];
  const catalog::Extra* x = cat.extra(version);
  if ((st.st_mode & S_IFMT) != format_of(v.type)) return Existing::kDiffers;
  if ((v.type == Type::kCharDev || v.type == Type::kBlockDev) && st.st_rdev != (x ? x->rdev : 0))
    return Existing::kDiffers;
  bool same = (st.st_mode & 07777) == v.mode && (!check_owner || (st.st_uid == v.uid && st.st_gid == v.gid)) &&
              same_time(st, cat.mtime(version)) && cat.xattrs(version).empty();
  return same ? Existing::kIdentical : Existing::kSameContent;
}

// Hashes the open file: true if it holds `size` bytes with this SHA-256.
bool same_content(int fd, uint64_t size, const catalog::Hash& want) {
  repo::ContentHash h;
  thread_local std::string buf;
  if (buf.size() < (1u << 20)) buf.resize(1u << 20);
  uint64_t total = 0;
  for (;;) {
    auto n = io::read_full(fd, buf.data(), buf.size());
    if (!n) return false;
    h.update(std::string_view(buf.data(), *n));
    total += *n;
    if (*n < buf.size()) break;
  }
  return total == size && h.finish() == want;
}

}  // namespace

Existing compare_existing(const catalog::Catalog& cat, uint32_t version, int dirfd, const std::string& name,
                          bool check_owner) {
  const catalog::Version& v = cat.versions[version];
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Existing::kAbsent : Existing::kDiffers;
  if (catalog::is_special(v.type)) return compare_special(cat, version, st, check_owner);
  if (v.type == Type::kSymlink) {
    if (!S_ISLNK(st.st_mode)) return Existing::kDiffers;
    std::string_view want = cat.symlink_target(v);
    std::string got(want.size() + 1, '\0');
    ssize_t n = ::readlinkat(dirfd, name.c_str(), got.data(), got.size());
    if (n < 0 || static_cast<size_t>(n) != want.size() || std::string_view(got.data(), n) != want)
      return Existing::kDiffers;
    return (check_owner && (st.st_uid != v.uid || st.st_gid != v.gid)) || !cat.xattrs(version).empty()
               ? Existing::kSameContent
               : Existing::kIdentical;
  }
  if (v.type != Type::kFile || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != v.size)
    return Existing::kDiffers;
  const catalog::Extra* x = cat.extra(version);
  bool same_meta = (st.st_mode & 07777) == v.mode && (!check_owner || (st.st_uid == v.uid && st.st_gid == v.gid)) &&
                   same_time(st, cat.mtime(version)) && st.st_nlink == 1 && !(v.flags & catalog::kLinked);
  if (v.size == 0 && !same_meta) return Existing::kSameContent;
  const catalog::Content* c = v.size ? &cat.contents[v.content] : nullptr;
  if (c && (std::all_of(c->hash.begin(), c->hash.end(), [](uint8_t b) { return b == 0; }) ||
            repo::is_rebuilt_stand_in(c->hash)))
    return Existing::kUnknown;  // no whole-file hash to compare with (a rebuilt catalog)
  io::Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat ost;
  if (fd.get() < 0 || ::fstat(fd.get(), &ost) != 0 || !S_ISREG(ost.st_mode) || ost.st_ino != st.st_ino ||
      ost.st_dev != st.st_dev)
    return Existing::kDiffers;
  if (same_meta) {
    // Its attributes and flags count as metadata: a file without them is restored again.
    auto xa = fs::read_xattrs(fd.get());
    same_meta = xa && *xa == cat.xattrs(version) && fs::read_fs_flags(fd.get()) == (x ? x->fs_flags : 0);
  }
  const Existing same = same_meta ? Existing::kIdentical : Existing::kSameContent;
  if (!c) return same;
  return same_content(fd.get(), v.size, c->hash) ? same : Existing::kDiffers;
}

size_t count_differing(const catalog::Catalog& cat, const std::vector<Item>& items, const std::string& target) {
  DestDirs dirs(cat, target);
  size_t n = 0;
  for (const Item& it : items) {
    const catalog::Version& v = cat.versions[it.version];
    if (v.type == Type::kDir || v.type == Type::kDeleted || v.type == Type::kSocket) continue;
    auto d = dirs.get(cat.entries[it.entry].parent, false);
    Existing e = d ? compare_existing(cat, it.version, d.value()->get(), std::string(cat.name(it.entry)), false)
                   : Existing::kAbsent;
    if (e == Existing::kDiffers || e == Existing::kUnknown) ++n;
  }
  return n;
}

}  // namespace seshat::restore
