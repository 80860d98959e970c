#include "seshat/repo/rebuild.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "seshat/repo/content_hash.h"
#include "seshat/repo/lock.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::repo {
namespace {

constexpr uint32_t kNone32 = catalog::kNone;

struct Found {
  std::string name;
  uint64_t size;
  container::Index index;
};

struct PartialFile {
  uint32_t parts = 0;
  container::FileInfo info;  // of part 0 (or the first seen)
  std::map<uint32_t, catalog::BlobRef> blobs;
};

class Rebuilder {
 public:
  Rebuilder(Repository& repo, catalog::Catalog& cat) : repo_(repo), cat_(cat) {}

  RebuildResult run() {
    std::vector<Found> found = read_indexes();
    for (const Found& fd : found) add_container(fd);
    r_.incomplete_files = partial_.size();
    for (const auto& [k, pf] : partial_) log::warn("Not recovered (parts missing): {}", pf.info.path);
    return r_;
  }

 private:
  // Every container's index that can be read and names its backup, oldest backup first.
  std::vector<Found> read_indexes() {
    std::vector<Found> found;
    for (const auto& o : repo_.store().list(kContainerPrefix)) {
      ++r_.containers;
      auto index = repo_.read_index(o.name, o.size, false);
      if (!index) {
        ++r_.unreadable;
        log::warn("Container {} cannot be read: {}; skipped", o.name, index.error().what());
        continue;
      }
      if (index->origin.folder.empty()) {
        ++r_.without_origin;
        log::warn("Container {} does not record its backup (an older format); skipped", o.name);
        continue;
      }
      found.push_back({o.name, o.size, std::move(index).value()});
    }
    std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
      return std::tie(a.index.origin.backup_ns, a.name) < std::tie(b.index.origin.backup_ns, b.name);
    });
    return found;
  }

  // The backup a container's origin names, made at its first container.
  uint32_t backup_of(const container::Origin& o) {
    uint32_t folder = cat_.find_or_add_folder(cat_.find_or_add_host(o.host), o.folder);
    auto [it, inserted] = backups_.emplace(std::make_pair(folder, o.backup_ns), 0);
    if (inserted) {
      it->second = cat_.add_backup(folder, o.backup_ns);
      cat_.backups[it->second].complete = true;
      ++r_.backups;
      const catalog::Folder& f = cat_.folders[folder];
      if (cat_.entries[f.root].latest == catalog::kNone)
        cat_.add_version(f.root, catalog::Version::dir(it->second, {.mode = 0755, .mtime_ns = o.backup_ns}));
    }
    return it->second;
  }

  void add_container(const Found& fd) {
    const container::Origin& o = fd.index.origin;
    uint32_t backup = backup_of(o);
    uint32_t cid = cat_.add_container(fd.name, fd.size);
    for (const auto& ie : fd.index.entries) {
      if (ie.file.path.size() <= o.folder.size() || ie.file.path.compare(0, o.folder.size(), o.folder) != 0) continue;
      catalog::BlobRef ref = blob_ref(cid, ie.blob);
      if (ie.file.parts <= 1) {
        add_file(backup, ie.file, {ref}, true);
        continue;
      }
      PartialFile& pf = partial_[{backup, ie.file.path}];
      pf.parts = ie.file.parts;
      if (pf.blobs.empty() || ie.file.part == 0) pf.info = ie.file;
      pf.blobs[ie.file.part] = ref;
      if (pf.blobs.size() == pf.parts) {
        std::vector<catalog::BlobRef> refs;
        for (auto& [n, b] : pf.blobs) refs.push_back(b);
        add_file(backup, pf.info, refs, false);
        partial_.erase({backup, ie.file.path});
      }
    }
  }

  // The entry of a path below the folder, with the chain of directories from the folder root
  // down made as needed (present from this backup on).
  uint32_t entry_for(uint32_t folder, const std::string& path, uint32_t backup, int64_t stamp) {
    const catalog::Folder& f = cat_.folders[folder];
    std::string key = std::to_string(folder) + '\0' + path;
    if (auto it = entry_of_.find(key); it != entry_of_.end()) return it->second;
    uint32_t cur = f.root;
    std::string prefix = f.path;
    std::string rest = path.substr(f.path.size());
    size_t pos = 0;
    while (pos < rest.size()) {
      while (pos < rest.size() && rest[pos] == '/') ++pos;
      size_t slash = rest.find('/', pos);
      std::string part = rest.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      if (part.empty()) break;
      prefix += (prefix == "/" ? "" : "/") + part;
      std::string k = std::to_string(folder) + '\0' + prefix;
      auto it = entry_of_.find(k);
      if (it == entry_of_.end()) {
        uint32_t e = cat_.add_entry(cur, part);
        it = entry_of_.emplace(k, e).first;
        if (slash != std::string::npos)
          cat_.add_version(e, catalog::Version::dir(backup, {.mode = 0755, .mtime_ns = stamp}));
      }
      cur = it->second;
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
    return cur;
  }

  void add_file(uint32_t backup, const container::FileInfo& info, const std::vector<catalog::BlobRef>& refs,
                bool whole_hash) {
    uint32_t e = entry_for(cat_.backups[backup].folder, info.path, backup, cat_.backups[backup].time_ns);
    catalog::Hash h{};
    if (whole_hash) {
      std::copy(info.hash.begin(), info.hash.end(), h.begin());
    } else {
      // Parts do not carry the file's hash: derive a stand-in from their MACs.
      crypto::Sha256 sha;
      sha.update("seshat-rebuilt-parts");
      for (const auto& b : refs)
        sha.update(std::string_view(reinterpret_cast<const char*>(b.mac.data()), b.mac.size()));
      crypto::Hash d = sha.finish();
      std::copy(d.begin(), d.end(), h.begin());
      std::copy(kRebuiltMark.begin(), kRebuiltMark.end(), h.begin());  // restore: cannot compare with it
    }
    uint64_t size = 0;
    for (const auto& b : refs) size += b.raw_size;
    uint32_t content;
    if (auto c = cat_.find_content(h))
      content = *c;
    else
      content = cat_.add_content(h, size, refs);
    uint32_t latest = cat_.entries[e].latest;
    if (latest != catalog::kNone && cat_.versions[latest].backup == backup) return;  // already have it
    // ctime and inode unknown: the next backup reads the file again and dedups it.
    catalog::Meta m{
        .mode = static_cast<uint16_t>(info.mode & 07777), .uid = info.uid, .gid = info.gid, .mtime_ns = info.mtime_ns};
    cat_.add_version(e, catalog::Version::file(backup, m, size, content));
    ++cat_.backups[backup].files_stored;
    ++r_.files;
  }

  Repository& repo_;
  catalog::Catalog& cat_;
  RebuildResult r_;
  std::map<std::pair<uint32_t, int64_t>, uint32_t> backups_;         // (folder, time) -> backup
  std::unordered_map<std::string, uint32_t> entry_of_;               // "<folder id>\0<path>" -> entry
  std::map<std::pair<uint32_t, std::string>, PartialFile> partial_;  // (backup, path)
};

}  // namespace

RebuildResult rebuild_catalog(Repository& repo, catalog::Catalog& cat) { return Rebuilder(repo, cat).run(); }

TidyResult tidy_after_interrupted(Repository& repo, catalog::Catalog& cat) {
  TidyResult r;
  storage::Storage& store = repo.store();
  for (const char* prefix : {kContainerPrefix, kDbPrefix, kKeptPrefix, kLockPrefix, kQueuePrefix}) {
    storage::Leftovers l = store.remove_incomplete(prefix);
    r.leftovers.objects += l.objects;
    r.leftovers.bytes += l.bytes;
  }
  std::unordered_map<std::string, bool> known;
  for (const auto& c : cat.containers) known.emplace(c.name, true);
  for (const auto& o : store.list(kContainerPrefix)) {
    if (known.count(o.name)) continue;
    auto index = repo.read_index(o.name, o.size, false);
    if (!index) {
      if (index.error().kind() == ErrorKind::kNotFound) continue;  // removed in between
      ++r.unreadable;
      log::warn("Container {} is not in the catalog and cannot be read ({}); left alone", o.name, index.error().what());
      continue;
    }
    uint32_t cid = kNone32;
    for (const auto& ie : index->entries) {
      if (ie.file.parts > 1 || std::all_of(ie.file.hash.begin(), ie.file.hash.end(), [](auto b) { return b == 0; }))
        continue;  // parts carry no whole-file hash to find them by
      catalog::Hash h{};
      std::copy(ie.file.hash.begin(), ie.file.hash.end(), h.begin());
      if (cat.find_content(h)) continue;
      if (cid == kNone32) cid = cat.add_container(o.name, o.size);
      cat.add_content(h, ie.blob.raw_size, {blob_ref(cid, ie.blob)});
      ++r.contents;
    }
    if (cid == kNone32) cid = cat.add_container(o.name, o.size);  // known from now on, even if nothing was new
    ++r.containers;
  }
  return r;
}

}  // namespace seshat::repo
