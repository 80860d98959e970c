#include "seshat/backup/walker.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/log.h"

namespace seshat::backup {

using catalog::kNone;
using catalog::Type;

catalog::Meta meta_of(const fs::Stat& st) {
  return {static_cast<uint16_t>(st.mode & 07777),    st.uid, st.gid, st.mtime_ns, st.ctime_ns, st.inode,
          st.kind == fs::Kind::kFile && st.nlink > 1};
}

catalog::Extra extra_of(catalog::Catalog& cat, const fs::Stat& st, const std::string& xattrs, uint32_t fs_flags) {
  catalog::Extra x;
  if (st.kind == fs::Kind::kFile && st.nlink > 1) x.dev = st.dev;
  if (st.format == S_IFCHR || st.format == S_IFBLK) x.rdev = st.rdev;
  if (st.mtime_ns == INT64_MAX || st.mtime_ns == INT64_MIN) {
    x.wide_mtime = true;
    x.mtime_sec = st.mtime_sec;
    x.mtime_nsec = st.mtime_nsec;
  }
  x.fs_flags = fs_flags;
  if (!xattrs.empty()) {
    x.xattrs_off = cat.add_string(xattrs);
    x.xattrs_len = static_cast<uint32_t>(xattrs.size());
  }
  return x;
}

catalog::Type special_type(const fs::Stat& st) {
  switch (st.format) {
    case S_IFIFO:
      return Type::kFifo;
    case S_IFCHR:
      return Type::kCharDev;
    case S_IFBLK:
      return Type::kBlockDev;
    case S_IFSOCK:
      return Type::kSocket;
    default:
      return Type::kDeleted;
  }
}

bool unchanged(const catalog::Version& v, const fs::Stat& st) {
  return v.type == Type::kFile && !(v.flags & catalog::kLegacy) && v.size == st.size && v.mtime_ns == st.mtime_ns &&
         v.inode == st.inode && v.ctime_ns == st.ctime_ns && v.mode == st.mode && v.uid == st.uid && v.gid == st.gid;
}

namespace {

void add_regex(std::vector<std::unique_ptr<RE2>>& v, const std::string& s) {
  auto re = std::make_unique<RE2>(s, RE2::Quiet);
  if (!re->ok()) throw Error(ErrorKind::kInvalidInput, "bad regular expression '" + s + "': " + re->error());
  v.push_back(std::move(re));
}

}  // namespace

Walker::Walker(catalog::Catalog& cat, const Options& o, uint32_t backup, Result& r)
    : cat_(cat), o_(o), backup_(backup), old_entries_(static_cast<uint32_t>(cat.entries.size())), r_(r) {
  for (const auto& s : o.excludes) add_regex(excludes_, s);
  for (const auto& s : o.includes) add_regex(includes_, s);
  // Patterns see the path below the folder: one written with the folder's own path in it (as
  // for an older Seshat, "^/home/u/cache") matches nothing here. Said once per pattern.
  if (o.folder != "/")
    for (const auto* list : {&o.excludes, &o.includes})
      for (const auto& p : *list)
        if (p.find(o.folder + "/") != std::string::npos)
          log::warn(
              "{} '{}' names the folder's own path {}; patterns see the path below it (e.g. ^/cache/), so it "
              "matches nothing here",
              list == &o.excludes ? "EXCLUDE" : "INCLUDE", p, o.folder);
  for (const auto& [what, path] : o.own_dirs) {
    // Seshat's own settings name these, not the user's tree, and a store given through a
    // symlink is meant: followed on purpose; only compared, never opened or changed.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      own_[{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)}] = Own{what, path};
  }
}

void Walker::walk(uint32_t root) {
  auto dir = fs::Dir::open(o_.folder);
  if (!dir)
    throw Error(dir.error().kind(), "cannot back up " + o_.folder + ": " + std::strerror(dir.error().sys_errno()));
  auto st = dir->stat_self();
  if (!st) throw Error(st.error().kind(), "cannot back up " + o_.folder + ": " + std::strerror(st.error().sys_errno()));
  if (auto it = own_.find({st->dev, st->inode}); it != own_.end())
    throw Error(ErrorKind::kInvalidInput,
                "cannot back up " + o_.folder + ": it is the Seshat " + it->second.what + " in use");
  refuse_inside_own(*dir);
  if (const catalog::Version* v = latest(root); v && (v->flags & catalog::kLegacy))
    log::info(
        "The last backup of {} was made by a Seshat before catalog format 2: every file is read again once, to "
        "record hard links, extended attributes, ACLs, inode flags and holes (contents already stored are not "
        "sent again)",
        o_.folder);
  record_dir(root, *st, dir->fd());
  path_ = o_.folder == "/" ? "" : o_.folder;
  inside_from_ = path_.size();
  ancestors_.insert({st->dev, st->inode});
  walk_dir(*dir, root);
}

// A folder inside the store or the staging area is refused (inside a folder, the walk skips
// them): its ancestors, reached through "..", are compared by (dev, inode) like the walk does.
void Walker::refuse_inside_own(const fs::Dir& root) const {
  if (own_.empty()) return;
  struct stat cur {};
  if (::fstat(root.fd(), &cur) != 0) return;
  io::Fd up(::openat(root.fd(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  while (up.valid()) {
    struct stat parent {};
    if (::fstat(up.get(), &parent) != 0) return;
    if (parent.st_dev == cur.st_dev && parent.st_ino == cur.st_ino) return;  // "/": its own parent
    auto it = own_.find({static_cast<uint64_t>(parent.st_dev), static_cast<uint64_t>(parent.st_ino)});
    if (it != own_.end())
      throw Error(ErrorKind::kInvalidInput, "cannot back up " + o_.folder + ": it is inside the Seshat " +
                                                it->second.what + " in use (" + it->second.path + ")");
    cur = parent;
    up = io::Fd(::openat(up.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
}

// EXCLUDE and INCLUDE patterns see the path below the folder ("/docs/a.txt" when backing up
// /home/u): the folder's own path can never be matched, so no pattern excludes everything.
bool Walker::excluded(std::string_view name, const std::string& full) const {
  const re2::StringPiece inside(full.data() + inside_from_, full.size() - inside_from_);
  bool out = (!o_.hidden && name.size() > 1 && name[0] == '.');
  if (!out)
    for (const auto& re : excludes_)
      if (RE2::PartialMatch(inside, *re)) {
        out = true;
        break;
      }
  if (out)
    for (const auto& re : includes_)
      if (RE2::PartialMatch(inside, *re)) return false;
  return out;
}

bool Walker::included(const std::string& full) const {
  const re2::StringPiece inside(full.data() + inside_from_, full.size() - inside_from_);
  for (const auto& re : includes_)
    if (RE2::PartialMatch(inside, *re)) return true;
  return false;
}

const catalog::Version* Walker::latest(uint32_t entry) const {
  uint32_t v = cat_.entries[entry].latest;
  return v == kNone ? nullptr : &cat_.versions[v];
}

void Walker::tombstone(uint32_t entry) {
  const catalog::Version* v = latest(entry);
  if (!v || v->type == Type::kDeleted) return;
  bool was_dir = v->type == Type::kDir;
  if (!was_dir) ++r_.deleted_files;
  cat_.add_version(entry, catalog::Version::deleted(backup_));
  ++r_.deleted;
  if (was_dir) tombstone_children(entry);
}

void Walker::tombstone_children(uint32_t entry) {
  if (entry >= old_entries_) return;
  auto [b, e] = cat_.children(entry);
  for (const uint32_t* it = b; it != e; ++it) tombstone(*it);
}

std::string Walker::xattrs_or_warn(seshat::Result<std::string> x) {
  if (x) return std::move(x.value());
  log::warn("Extended attributes not backed up: {} ({})", path_.empty() ? "/" : path_,
            std::strerror(x.error().sys_errno()));
  ++r_.metadata_lost;
  return {};
}

// The xattrs of the symlink or special file the walk saw as `st`. A name swapped since for
// another inode is not read (its attributes would be recorded as this one's): a WARN.
std::string Walker::node_xattrs(const fs::Dir& parent, const std::string& name, const fs::Stat& st) {
  io::Fd fd(::openat(parent.fd(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) return {};  // vanished: recorded as the walk saw it
  if (!fd.valid()) return xattrs_or_warn(errno_error(name, errno));
  struct stat now;
  if (::fstat(fd.get(), &now) != 0) return xattrs_or_warn(errno_error(name, errno));
  if (now.st_ino != st.inode || now.st_dev != st.dev) {
    log::warn("Extended attributes not backed up: {} (replaced while it was read)", path_.empty() ? "/" : path_);
    ++r_.metadata_lost;
    return {};
  }
  return xattrs_or_warn(fs::read_xattrs(fd.get(), true));
}

// The ctime is compared too: a changed ACL, attribute or flag changes nothing else.
void Walker::record_dir(uint32_t entry, const fs::Stat& st, int dirfd) {
  const catalog::Version* v = latest(entry);
  // Only the directory's own metadata is compared; its children are walked either way.
  if (v && v->type == Type::kDir && !(v->flags & catalog::kLegacy) && v->mode == st.mode && v->uid == st.uid &&
      v->gid == st.gid && v->mtime_ns == st.mtime_ns && v->ctime_ns == st.ctime_ns)
    return;
  std::string x = dirfd >= 0 ? xattrs_or_warn(fs::read_xattrs(dirfd)) : std::string();
  uint32_t flags = dirfd >= 0 ? fs::read_fs_flags(dirfd) : 0;
  cat_.add_version(entry, catalog::Version::dir(backup_, meta_of(st)), extra_of(cat_, st, x, flags));
}

void Walker::record_symlink(uint32_t entry, const fs::Stat& st, const std::string& target, const fs::Dir& parent,
                            const std::string& name) {
  const catalog::Version* v = latest(entry);
  if (v && v->type == Type::kSymlink && !(v->flags & catalog::kLegacy) && cat_.symlink_target(*v) == target &&
      v->mtime_ns == st.mtime_ns && v->uid == st.uid && v->gid == st.gid && v->ctime_ns == st.ctime_ns)
    return;
  if (v && v->type == Type::kDir) tombstone_children(entry);
  std::string x = node_xattrs(parent, name, st);
  cat_.add_version(entry, catalog::Version::symlink(backup_, meta_of(st), cat_.add_string(target), target.size()),
                   extra_of(cat_, st, x, 0));
}

// A FIFO, device or socket: recorded like a symlink, with a device's numbers.
void Walker::record_special(uint32_t entry, const fs::Stat& st, const fs::Dir& parent, const std::string& name) {
  const Type t = special_type(st);
  const catalog::Version* v = latest(entry);
  if (v && v->type == t && v->mode == st.mode && v->uid == st.uid && v->gid == st.gid && v->mtime_ns == st.mtime_ns &&
      v->ctime_ns == st.ctime_ns) {
    const catalog::Extra* x = cat_.extra(cat_.entries[entry].latest);
    if ((x ? x->rdev : 0) == ((t == Type::kCharDev || t == Type::kBlockDev) ? st.rdev : 0)) return;
  }
  if (v && v->type == Type::kDir) tombstone_children(entry);
  std::string x = node_xattrs(parent, name, st);
  cat_.add_version(entry, catalog::Version::special(backup_, t, meta_of(st)), extra_of(cat_, st, x, 0));
}

void Walker::not_backed_up(const char* what, const Error& e) {
  log::warn("{} not backed up: {} ({})", what, path_.empty() ? "/" : path_, std::strerror(e.sys_errno()));
  ++r_.not_backed_up;
}

void Walker::walk_dir(const fs::Dir& dir, uint32_t entry, bool outside) {
  fault::point("walk.dir");
  ++r_.dirs_scanned;
  auto names = dir.list();
  if (!names) {
    // Unreadable: warn and leave what the catalog knows of it untouched.
    not_backed_up("Directory", names.error());
    return;
  }
  const uint32_t* old_it = nullptr;
  const uint32_t* old_end = nullptr;
  if (entry < old_entries_) std::tie(old_it, old_end) = cat_.children(entry);

  const size_t base_len = path_.size();
  for (const std::string& name : *names) {
    // Old children sorting before this name are gone from disk.
    while (old_it != old_end && cat_.name(*old_it) < name) tombstone(*old_it++);
    uint32_t child = kNone;
    if (old_it != old_end && cat_.name(*old_it) == name) child = *old_it++;
    path_.resize(base_len);
    path_.push_back('/');
    path_.append(name);
    visit(dir, entry, name, child, outside);
  }
  while (old_it != old_end) tombstone(*old_it++);
  path_.resize(base_len);
}

// One name of a directory being walked; `child` is its entry if the catalog knows it.
bool Walker::skip_excluded(const fs::Dir& dir, uint32_t parent, const std::string& name, uint32_t child, bool outside) {
  if (!(outside ? !included(path_) : excluded(name, path_))) return false;
  // INCLUDE overrides every exclusion: an excluded directory is still looked into when there
  // are INCLUDE patterns, for what they match.
  if (!includes_.empty()) {
    auto st = dir.stat_child(name, false);
    if (st && st->kind == fs::Kind::kDir) {
      if (!outside) log::warn("Ignoring {} (except what INCLUDE matches in it)", path_);
      visit_excluded_dir(dir, parent, name, child, *st);
      return true;
    }
  }
  if (!outside) log::warn("Ignoring {}", path_);
  if (child != kNone) tombstone(child);
  return true;
}

void Walker::visit(const fs::Dir& dir, uint32_t parent, const std::string& name, uint32_t child, bool outside) {
  if (skip_excluded(dir, parent, name, child, outside)) return;
  auto st = dir.stat_child(name, o_.follow_symlinks);
  if (!st && o_.follow_symlinks && st.error().sys_errno() == ENOENT) st = dir.stat_child(name, false);  // dangling link
  fault::point("walk.child");
  if (!st) {
    if (st.error().sys_errno() != ENOENT)
      not_backed_up("File", st.error());
    else if (child != kNone)
      tombstone(child);  // vanished between listing and stat
    return;
  }
  if (st->kind == fs::Kind::kOther && special_type(*st) == Type::kDeleted) {
    log::warn("Ignoring {} {}", st->other_name, path_);
    if (child != kNone) tombstone(child);
    return;
  }
  if (st->kind == fs::Kind::kDir) {
    if (auto it = own_.find({st->dev, st->inode}); it != own_.end()) {
      if (!it->second.warned) log::warn("Ignoring the Seshat {} {}", it->second.what, path_);
      it->second.warned = true;
      if (child != kNone) tombstone(child);
      return;
    }
  }
  if (child == kNone) child = cat_.add_entry(parent, name);
  ++kept_;  // recorded (or its history kept): an excluded directory above it is a parent to restore

  switch (st->kind) {
    case fs::Kind::kFile: {
      ++r_.files_scanned;
      const catalog::Version* v = latest(child);
      if (v && unchanged(*v, *st)) break;
      if (v && v->type == Type::kDir) tombstone_children(child);
      items.push_back({child, st->size});
      break;
    }
    case fs::Kind::kSymlink: {
      ++r_.files_scanned;
      auto target = dir.read_link(name);
      if (!target) {
        if (target.error().sys_errno() != ENOENT) not_backed_up("File", target.error());
        break;
      }
      record_symlink(child, *st, *target, dir, name);
      break;
    }
    case fs::Kind::kDir: {
      if (o_.follow_symlinks && ancestors_.count({st->dev, st->inode})) {
        record_dir(child, *st, -1);
        log::warn("Ignoring symlink loop at {}", path_);
        break;
      }
      auto sub = dir.open_child(name, o_.follow_symlinks);
      // A file or link that became a directory starts a new history with this version.
      record_dir(child, *st, sub ? sub->fd() : -1);
      if (!sub) {
        if (sub.error().sys_errno() != ENOENT) not_backed_up("Directory", sub.error());
        break;
      }
      if (o_.follow_symlinks) ancestors_.insert({st->dev, st->inode});
      walk_dir(*sub, child);
      if (o_.follow_symlinks) ancestors_.erase({st->dev, st->inode});
      break;
    }
    case fs::Kind::kOther:
      ++r_.files_scanned;
      record_special(child, *st, dir, name);
      break;
  }
}

void Walker::visit_excluded_dir(const fs::Dir& dir, uint32_t parent, const std::string& name, uint32_t child,
                                const fs::Stat& st) {
  // Not into Seshat's own directories, and not onto another filesystem (an excluded /proc or
  // network mount is not walked for what INCLUDE might match in it).
  struct stat here {};
  bool other_fs = ::fstat(dir.fd(), &here) == 0 && static_cast<uint64_t>(here.st_dev) != st.dev;
  if (own_.count({st.dev, st.inode}) > 0 || other_fs) {
    if (child != kNone) tombstone(child);
    return;
  }
  auto sub = dir.open_child(name, false);
  if (!sub) {
    if (sub.error().sys_errno() != ENOENT) not_backed_up("Directory", sub.error());
    if (child != kNone) tombstone(child);  // excluded; what INCLUDE matched in it could not be read (warned)
    return;
  }
  // A new entry is made only for the walk below; if nothing there is kept it is taken back,
  // so that excluded trees do not grow the catalog by their names.
  const bool is_new = child == kNone;
  const size_t entries_mark = cat_.entries.size(), arena_mark = cat_.arena.size();
  if (is_new) child = cat_.add_entry(parent, name);
  const uint64_t before = kept_;
  walk_dir(*sub, child, true);
  if (kept_ > before) {
    // It holds something INCLUDE matched: a parent to restore. A file or link that became
    // this directory starts a new history with the version, as in visit().
    record_dir(child, st, sub->fd());
    ++kept_;
  } else if (is_new) {
    cat_.truncate_entries(entries_mark, arena_mark);
  } else {
    tombstone(child);  // with whatever of it the walk below could not read
  }
}

}  // namespace seshat::backup
