#include "seshat/restore/restore.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "seshat/container/container.h"
#include "seshat/fs/fs.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::restore {

using catalog::Type;

std::string destination(const std::string& original, const std::string& target) {
  if (target.empty()) return original;
  std::string t = target;
  while (t.size() > 1 && t.back() == '/') t.pop_back();
  if (t == "/") return original;
  return t + original;
}

namespace {

struct Planned {
  const Item* item;
  std::string dest;
  std::string original;
};

container::BlobLocation location(const catalog::BlobRef& b) {
  container::BlobLocation loc;
  loc.offset = b.offset;
  loc.length = b.length;
  loc.raw_size = b.raw_size;
  loc.compressed = b.compressed;
  loc.iv = b.iv;
  loc.mac = b.mac;
  return loc;
}

}  // namespace

Result run(repo::Repository& repo, const catalog::Catalog& cat, const std::vector<Item>& items, const Options& o) {
  Result r;
  std::vector<Planned> dirs, files, links;
  for (const Item& it : items) {
    std::string original = cat.path(it.entry);
    Planned p{&it, destination(original, o.target), original};
    switch (cat.versions[it.version].type) {
      case Type::kDir: dirs.push_back(std::move(p)); break;
      case Type::kFile: files.push_back(std::move(p)); break;
      case Type::kSymlink: links.push_back(std::move(p)); break;
      case Type::kDeleted: break;
    }
  }
  if (o.dry_run) {
    uint64_t bytes = 0;
    for (const auto& f : files) {
      bytes += cat.versions[f.item->version].size;
      log::info("Would restore {}", f.dest);
    }
    for (const auto& l : links) log::info("Would restore {}", l.dest);
    log::info("Dry run: {} files ({}), {} directories, {} symlinks would be restored; nothing was written", files.size(),
              human_size(bytes), dirs.size(), links.size());
    r.files = files.size();
    r.dirs = dirs.size();
    r.symlinks = links.size();
    return r;
  }
  const bool chown = ::geteuid() == 0;
  std::mutex mu;

  auto fail = [&](const std::string& path, const std::string& why) {
    log::error("Not restored: {} ({})", path, why);
    std::lock_guard<std::mutex> lk(mu);
    ++r.failed;
  };

  for (const auto& d : dirs) {
    if (int e = fs::make_dirs(d.dest)) fail(d.dest, std::strerror(e));
    else ++r.dirs;
  }
  // Parent directories of files and links outside the selected dirs (e.g. a single file).
  auto ensure_parent = [&](const std::string& dest) {
    size_t slash = dest.rfind('/');
    return slash == 0 || slash == std::string::npos ? 0 : fs::make_dirs(dest.substr(0, slash));
  };

  // Files, biggest first so the pool ends evenly.
  std::sort(files.begin(), files.end(), [&](const Planned& a, const Planned& b) {
    return cat.versions[a.item->version].size > cat.versions[b.item->version].size;
  });
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> done_files{0};
  size_t total = files.size();
  std::atomic<int> last_decile{0};
  auto worker = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= files.size()) return;
      const Planned& f = files[i];
      const catalog::Version& v = cat.versions[f.item->version];
      const catalog::Content& c = cat.contents[v.content];
      if (int e = ensure_parent(f.dest)) {
        fail(f.dest, std::strerror(e));
        continue;
      }
      std::string damage;
      int err = fs::write_file_atomic(f.dest, c.size, [&](int fd) -> int {
        uint64_t off = 0;
        for (uint32_t b = 0; b < c.blob_count; ++b) {
          const catalog::BlobRef& ref = cat.blobs[c.first_blob + b];
          const std::string& cname = cat.containers[ref.container].name;
          std::string plain;
          try {
            plain = repo.read_blob(cname, location(ref));
          } catch (const Error& e) {
            damage = "damaged: " + std::string(e.what()) + " in " + cname.substr(cname.rfind('/') + 1);
            return EIO;
          }
          if (int e = fs::pwrite_full(fd, plain, off)) return e;
          off += plain.size();
        }
        if (off != c.size) {
          damage = "damaged: content has the wrong size";
          return EIO;
        }
        return 0;
      });
      if (err) {
        fail(f.original, damage.empty() ? std::string(std::strerror(err)) : damage);
        continue;
      }
      if (int e = fs::set_metadata(f.dest, false, v.mode, v.uid, v.gid, v.mtime_ns, chown))
        log::warn("Restored {} but could not set its metadata ({})", f.dest, std::strerror(e));
      bytes += c.size;
      size_t done = ++done_files;
      int decile = static_cast<int>(done * 10 / total);
      int prev = last_decile.load();
      while (decile > prev && !last_decile.compare_exchange_weak(prev, decile)) {
      }
      if (decile > prev && decile < 10) log::info("Progress {} - {}%", done, decile * 10);
    }
  };
  int n = o.threads > 0 ? o.threads : static_cast<int>(2 * std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  r.files = done_files;
  r.bytes = bytes;

  for (const auto& l : links) {
    const catalog::Version& v = cat.versions[l.item->version];
    int e = ensure_parent(l.dest);
    if (!e) e = fs::make_symlink(std::string(cat.symlink_target(v)), l.dest);
    if (e) {
      fail(l.dest, std::strerror(e));
      continue;
    }
    fs::set_metadata(l.dest, true, v.mode, v.uid, v.gid, v.mtime_ns, chown);
    ++r.symlinks;
  }
  // Directory metadata last, children before parents, so writing inside does not change it.
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    const catalog::Version& v = cat.versions[it->item->version];
    if (int e = fs::set_metadata(it->dest, false, v.mode, v.uid, v.gid, v.mtime_ns, chown))
      log::warn("Restored {} but could not set its metadata ({})", it->dest, std::strerror(e));
  }
  return r;
}

}  // namespace seshat::restore
