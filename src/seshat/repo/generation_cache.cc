// The local cache of an S3 store's generations (doc/format/catalog.md, "The local cache"),
// reading generations from the store, and VERIFY's check of every generation.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "seshat/repo/repository.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/bytes.h"
#include "seshat/util/io.h"
#include "seshat/util/log.h"

namespace seshat::repo {
namespace {

// Paths here are safe as paths: the cache lives in the running user's own cache directory
// ($XDG_CACHE_HOME or ~/.cache, made 0700 by us), never in a tree being backed up or restored,
// and every open still refuses a symlink at the last component.
//
// A cached generation: a regular file (never through a symlink, never blocking on a FIFO)
// of exactly the listed size; nullopt for anything else.
std::optional<std::string> read_cached(const std::string& path, uint64_t size) {
  io::Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != size)
    return std::nullopt;
  std::string data(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd.get(), data.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  return data;
}

}  // namespace

// Named by number, size and ETag, so that an object rewritten under the same name is never
// taken for the old one.
std::string Generations::cache_file(const GenerationInfo& g) const {
  if (cache_dir_.empty() || g.etag.empty()) return {};
  return fmt::format("{}/{:020}-{}-{}", cache_dir_, g.number, g.size, to_hex(g.etag));
}

Generations::Object Generations::fetch_object(const GenerationInfo& g, std::string* keep) {
  // A damaged read is read once more before the generation counts as damaged: bytes
  // corrupted on the way must not make a reader fall back past a sound generation.
  for (int attempt = 1;; ++attempt) {
    std::string sealed = store_.get(g.name);
    if (keep) *keep = sealed;
    try {
      return open_sealed(keys_, g, std::move(sealed));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kCorruption || attempt >= 2) throw;
      log::debug("Catalog generation {} read damaged ({}); reading it again", g.name, e.what());
    }
  }
}

Generations::Object Generations::read_object(const GenerationInfo& g) {
  std::string path = cache_file(g);
  if (path.empty()) return fetch_object(g);
  if (auto cached = read_cached(path, g.size)) {
    try {
      return open_sealed(keys_, g, std::move(*cached));
    } catch (const Error& e) {
      log::debug("The cached copy of {} is damaged ({}); reading it from the store", g.name, e.what());
    }
  }
  ::unlink(path.c_str());
  std::string sealed;
  Object o = fetch_object(g, &sealed);  // only an authentic object is cached
  if (sealed.size() == g.size) {
    if (Status st = make_dirs(cache_dir_, 0700); !st)
      log::debug("Cannot make the cache directory {}: {}", cache_dir_, st.error().what());
    else if (Status w = write_file_atomic(path, sealed, 0600); !w)
      log::debug("Cannot cache {}: {}", g.name, w.error().what());
  }
  return o;
}

void Generations::prune_cache(const std::vector<GenerationInfo>& gens) {
  if (cache_dir_.empty()) return;
  std::vector<std::string> keep;
  for (const auto& g : gens) keep.push_back(cache_file(g));
  io::Fd dir(::open(cache_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return;
  DIR* d = ::fdopendir(::dup(dir.get()));
  if (!d) return;
  std::vector<std::string> gone;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (std::find(keep.begin(), keep.end(), cache_dir_ + "/" + name) == keep.end()) gone.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : gone) ::unlinkat(dir.get(), name.c_str(), 0);
}

std::vector<std::pair<std::string, std::string>> Generations::check_all() {
  std::vector<std::pair<std::string, std::string>> problems;
  auto gens = list();
  std::map<uint64_t, Object> heads;  // what each readable generation says it is (payload dropped)
  for (const auto& g : gens) {
    try {
      Object o = fetch_object(g);  // from the store, not the cache
      o.plain.clear();
      o.plain.shrink_to_fit();
      heads.emplace(g.number, std::move(o));
    } catch (const Error& e) {
      problems.emplace_back(g.name, e.what());
    }
  }
  // Each delta's chain: its base and every generation between are there, deltas of that base.
  for (const auto& [number, o] : heads) {
    if (o.kind != Kind::kDelta) continue;
    for (uint64_t k = o.base; k < number; ++k) {
      auto it = heads.find(k);
      bool listed = std::any_of(gens.begin(), gens.end(), [&](const GenerationInfo& g) { return g.number == k; });
      if (!listed) {
        problems.emplace_back(fmt::format("{}{:020}", kDbPrefix, number),
                              fmt::format("generation {} of its chain is missing", k));
        break;
      }
      if (it == heads.end()) continue;  // damaged: reported above
      bool fits =
          k == o.base ? it->second.kind != Kind::kDelta : it->second.kind == Kind::kDelta && it->second.base == o.base;
      if (!fits) {
        problems.emplace_back(fmt::format("{}{:020}", kDbPrefix, number),
                              fmt::format("generation {} is not part of its chain (base {})", k, o.base));
        break;
      }
    }
  }
  return problems;
}

}  // namespace seshat::repo
