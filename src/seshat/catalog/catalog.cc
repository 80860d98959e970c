#include "seshat/catalog/catalog.h"

#include <algorithm>

#include "seshat/util/error.h"

namespace seshat::catalog {

uint32_t Catalog::find_or_add_host(const std::string& name) {
  if (auto h = find_host(name)) return *h;
  hosts.push_back({name});
  return static_cast<uint32_t>(hosts.size() - 1);
}

std::optional<uint32_t> Catalog::find_host(const std::string& name) const {
  for (size_t i = 0; i < hosts.size(); ++i)
    if (hosts[i].name == name) return static_cast<uint32_t>(i);
  return std::nullopt;
}

uint32_t Catalog::find_or_add_folder(uint32_t host, const std::string& path) {
  if (auto f = find_folder(host, path)) return *f;
  Folder f;
  f.host = host;
  f.path = path;
  f.root = add_entry(kNone, path);
  folders.push_back(f);
  return static_cast<uint32_t>(folders.size() - 1);
}

std::optional<uint32_t> Catalog::find_folder(uint32_t host, const std::string& path) const {
  for (size_t i = 0; i < folders.size(); ++i)
    if (folders[i].host == host && folders[i].path == path) return static_cast<uint32_t>(i);
  return std::nullopt;
}

uint32_t Catalog::add_backup(uint32_t folder, int64_t time_ns) {
  Backup b;
  b.folder = folder;
  b.time_ns = time_ns;
  backups.push_back(b);
  return static_cast<uint32_t>(backups.size() - 1);
}

uint32_t Catalog::add_container(const std::string& name, uint64_t size) {
  containers.push_back({name, size});
  return static_cast<uint32_t>(containers.size() - 1);
}

uint32_t Catalog::add_string(std::string_view s) {
  if (arena.size() + s.size() > 0xffffffffull) throw Error(ErrorKind::kPermanent, "catalog name space is full");
  uint32_t off = static_cast<uint32_t>(arena.size());
  arena.append(s);
  return off;
}

uint32_t Catalog::add_entry(uint32_t parent, std::string_view name) {
  Entry e;
  e.parent = parent;
  e.name_off = add_string(name);
  e.name_len = static_cast<uint32_t>(name.size());
  entries.push_back(e);
  return static_cast<uint32_t>(entries.size() - 1);
}

Mark Catalog::mark() const {
  Mark m;
  m.hosts = hosts.size();
  m.folders = folders.size();
  m.backups = backups.size();
  m.containers = containers.size();
  m.blobs = blobs.size();
  m.contents = contents.size();
  m.entries = entries.size();
  m.versions = versions.size();
  m.extras = extras.size();
  m.arena = arena.size();
  m.backup_records = backups;
  m.container_sizes.reserve(containers.size());
  for (const auto& c : containers) m.container_sizes.push_back(c.size);
  m.folder_automatic.reserve(folders.size());
  for (const auto& f : folders) m.folder_automatic.push_back(f.automatic ? 1 : 0);
  return m;
}

bool Catalog::extends(const Mark& m) const {
  return hosts.size() >= m.hosts && folders.size() >= m.folders && backups.size() >= m.backups &&
         containers.size() >= m.containers && blobs.size() >= m.blobs && contents.size() >= m.contents &&
         entries.size() >= m.entries && versions.size() >= m.versions && extras.size() >= m.extras &&
         arena.size() >= m.arena;
}

void Catalog::rollback(const Mark& m) {
  // Newest versions first: an entry kept points back past every version taken away.
  for (size_t e = 0; e < m.entries; ++e) {
    uint32_t& latest = entries[e].latest;
    while (latest != kNone && latest >= m.versions) latest = versions[latest].prev;
  }
  hosts.resize(m.hosts);
  folders.resize(m.folders);
  backups.assign(m.backup_records.begin(), m.backup_records.end());
  containers.resize(m.containers);
  for (size_t i = 0; i < m.containers; ++i) containers[i].size = m.container_sizes[i];
  for (size_t i = 0; i < m.folders; ++i) folders[i].automatic = m.folder_automatic[i] != 0;
  blobs.resize(m.blobs);
  contents.resize(m.contents);
  entries.resize(m.entries);
  versions.resize(m.versions);
  extras.resize(m.extras);
  arena.resize(m.arena);
  // The indexes are rebuilt when next needed.
  content_slots_.clear();
  content_indexed_ = 0;
  child_order_.clear();
  child_start_.clear();
}

void Catalog::truncate_entries(size_t n, size_t arena_size) {
  if (n < entries.size()) entries.resize(n);
  if (arena_size < arena.size()) arena.resize(arena_size);
}

std::string_view Catalog::name(uint32_t entry) const {
  const Entry& e = entries[entry];
  return std::string_view(arena).substr(e.name_off, e.name_len);
}

std::string Catalog::path(uint32_t entry) const {
  std::vector<std::string_view> parts;
  for (uint32_t e = entry; e != kNone; e = entries[e].parent) parts.push_back(name(e));
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!out.empty() && out.back() != '/') out.push_back('/');
    out.append(*it);
  }
  return out;
}

void Catalog::build_child_index() {
  child_order_.clear();
  child_order_.reserve(entries.size());
  for (uint32_t i = 0; i < entries.size(); ++i)
    if (entries[i].parent != kNone) child_order_.push_back(i);
  std::sort(child_order_.begin(), child_order_.end(), [this](uint32_t a, uint32_t b) {
    if (entries[a].parent != entries[b].parent) return entries[a].parent < entries[b].parent;
    return name(a) < name(b);
  });
  child_start_.assign(entries.size() + 1, 0);
  // Counting pass: child_start_[p+1] = number of children of p, then prefix sums.
  for (uint32_t c : child_order_) ++child_start_[entries[c].parent + 1];
  for (size_t i = 1; i < child_start_.size(); ++i) child_start_[i] += child_start_[i - 1];
}

std::pair<const uint32_t*, const uint32_t*> Catalog::children(uint32_t entry) const {
  if (entry + 1 >= child_start_.size()) return {nullptr, nullptr};
  const uint32_t* base = child_order_.data();
  return {base + child_start_[entry], base + child_start_[entry + 1]};
}

std::optional<uint32_t> Catalog::lookup(uint32_t folder, std::string_view abs_path) const {
  const Folder& f = folders[folder];
  if (!abs_path.starts_with(f.path)) return std::nullopt;
  std::string_view rest = abs_path.substr(f.path.size());
  if (!rest.empty() && rest.front() != '/' && f.path != "/") return std::nullopt;
  uint32_t cur = f.root;
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    if (rest.empty()) break;
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    auto [b, e] = children(cur);
    const uint32_t* it = std::lower_bound(b, e, part, [this](uint32_t c, std::string_view n) { return name(c) < n; });
    if (it == e || name(*it) != part) return std::nullopt;
    cur = *it;
  }
  return cur;
}

namespace {
Version with_meta(uint32_t backup, Type type, const Meta& m) {
  Version v;
  v.backup = backup;
  v.type = type;
  v.mode = static_cast<uint16_t>(m.mode & 07777);
  v.uid = m.uid;
  v.gid = m.gid;
  v.mtime_ns = m.mtime_ns;
  v.ctime_ns = m.ctime_ns;
  v.inode = m.inode;
  if (m.linked) v.flags |= kLinked;
  return v;
}
}  // namespace

Version Version::file(uint32_t backup, const Meta& m, uint64_t size, uint32_t content) {
  Version v = with_meta(backup, Type::kFile, m);
  v.size = size;
  v.content = content;
  return v;
}

Version Version::dir(uint32_t backup, const Meta& m) { return with_meta(backup, Type::kDir, m); }

Version Version::symlink(uint32_t backup, const Meta& m, uint32_t target_offset, uint64_t target_length) {
  Version v = with_meta(backup, Type::kSymlink, m);
  v.content = target_offset;
  v.size = target_length;
  return v;
}

Version Version::special(uint32_t backup, Type type, const Meta& m) { return with_meta(backup, type, m); }

Version Version::deleted(uint32_t backup) {
  Version v;
  v.backup = backup;
  v.type = Type::kDeleted;
  return v;
}

uint32_t Catalog::add_version(uint32_t entry, Version v, const Extra& extra) {
  v.prev = entries[entry].latest;
  v.flags &= static_cast<uint8_t>(~kExtra);
  if (!extra.empty()) v.flags |= kExtra;
  versions.push_back(v);
  uint32_t id = static_cast<uint32_t>(versions.size() - 1);
  entries[entry].latest = id;
  if (!extra.empty()) {
    extras.push_back(extra);
    extras.back().version = id;
  }
  return id;
}

const Extra* Catalog::extra(uint32_t version) const {
  if (!(versions[version].flags & kExtra)) return nullptr;
  auto it =
      std::lower_bound(extras.begin(), extras.end(), version, [](const Extra& x, uint32_t v) { return x.version < v; });
  return it != extras.end() && it->version == version ? &*it : nullptr;
}

Mtime Catalog::mtime(uint32_t version) const {
  if (const Extra* x = extra(version); x && x->wide_mtime) return {x->mtime_sec, x->mtime_nsec};
  int64_t ns = versions[version].mtime_ns;
  int64_t sec = ns / 1000000000, rem = ns % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    --sec;
  }
  return {sec, static_cast<uint32_t>(rem)};
}

std::string_view Catalog::xattrs(uint32_t version) const {
  const Extra* x = extra(version);
  if (!x || !x->xattrs_len) return {};
  return std::string_view(arena).substr(x->xattrs_off, x->xattrs_len);
}

uint32_t Catalog::version_at(uint32_t entry, uint32_t backup) const {
  uint32_t v = entries[entry].latest;
  while (v != kNone && versions[v].backup > backup) v = versions[v].prev;
  return v;
}

std::string_view Catalog::symlink_target(const Version& v) const {
  return std::string_view(arena).substr(v.content, v.size);
}

namespace {
uint64_t slot_key(const Hash& h) {
  uint64_t v;
  __builtin_memcpy(&v, h.data(), sizeof v);
  return v;
}
}  // namespace

void Catalog::index_content(uint32_t id) const {
  size_t mask = content_slots_.size() - 1;
  for (size_t i = slot_key(contents[id].hash) & mask;; i = (i + 1) & mask) {
    if (content_slots_[i] == kNone) {
      content_slots_[i] = id;
      return;
    }
  }
}

std::optional<uint32_t> Catalog::find_content(const Hash& hash) const {
  if (content_indexed_ < contents.size()) {
    if (contents.size() * 2 > content_slots_.size()) {
      // Grow to keep the load under 1/2, and index everything again.
      size_t cap = 1024;
      while (cap < contents.size() * 4) cap *= 2;
      content_slots_.assign(cap, kNone);
      content_indexed_ = 0;
    }
    for (; content_indexed_ < contents.size(); ++content_indexed_)
      index_content(static_cast<uint32_t>(content_indexed_));
  }
  if (content_slots_.empty()) return std::nullopt;
  size_t mask = content_slots_.size() - 1;
  for (size_t i = slot_key(hash) & mask;; i = (i + 1) & mask) {
    uint32_t id = content_slots_[i];
    if (id == kNone) return std::nullopt;
    if (contents[id].hash == hash) return id;
  }
}

uint32_t Catalog::add_content(const Hash& hash, uint64_t size, const std::vector<BlobRef>& refs) {
  Content c;
  c.hash = hash;
  c.size = size;
  c.first_blob = static_cast<uint32_t>(blobs.size());
  c.blob_count = static_cast<uint32_t>(refs.size());
  blobs.insert(blobs.end(), refs.begin(), refs.end());
  contents.push_back(c);
  return static_cast<uint32_t>(contents.size() - 1);
}

void Catalog::for_each_at(uint32_t root, uint32_t backup, const std::function<void(uint32_t, uint32_t)>& fn) const {
  // Depth-first over the child index, skipping subtrees absent at `backup`.
  std::vector<uint32_t> stack{root};
  while (!stack.empty()) {
    uint32_t e = stack.back();
    stack.pop_back();
    uint32_t v = version_at(e, backup);
    if (v == kNone || versions[v].type == Type::kDeleted) continue;
    fn(e, v);
    if (versions[v].type != Type::kDir) continue;
    auto [b, end] = children(e);
    for (const uint32_t* it = end; it != b;) stack.push_back(*--it);
  }
}

size_t Catalog::memory_bytes() const {
  size_t n = arena.capacity() + entries.capacity() * sizeof(Entry) + versions.capacity() * sizeof(Version) +
             extras.capacity() * sizeof(Extra) + contents.capacity() * sizeof(Content) +
             blobs.capacity() * sizeof(BlobRef) + child_order_.capacity() * 4 + child_start_.capacity() * 4 +
             content_slots_.capacity() * sizeof(uint32_t);
  for (const auto& c : containers) n += sizeof(Container) + c.name.capacity();
  n += backups.capacity() * sizeof(Backup) + folders.capacity() * sizeof(Folder);
  return n;
}

}  // namespace seshat::catalog
