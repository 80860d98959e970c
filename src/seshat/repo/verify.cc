#include "seshat/repo/verify.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::repo {
namespace {

std::string short_name(const std::string& n) { return n.substr(n.rfind('/') + 1); }

}  // namespace

VerifyResult verify(Repository& repo, const catalog::Catalog& cat, const VerifyOptions& o) {
  VerifyResult r;
  storage::Storage& store = repo.store();
  std::vector<bool> bad_blob(cat.blobs.size(), false);
  std::map<uint32_t, std::string> container_problem;  // first problem per container
  auto problem = [&](uint32_t container, const std::string& what) {
    ++r.problems;
    log::error("Container {}: {}", short_name(cat.containers[container].name), what);
    container_problem.emplace(container, what);
  };

  // Catalog generations.
  for (const auto& g : repo.list_generations()) {
    ++r.generations;
    try {
      crypto::open_packed(repo.keys(), store.get(g.name));
    } catch (const Error& e) {
      ++r.problems;
      log::error("Catalog generation {} is damaged: {}", g.name, e.what());
    }
  }

  std::vector<std::vector<uint32_t>> by_container(cat.containers.size());
  for (uint32_t i = 0; i < cat.blobs.size(); ++i) by_container[cat.blobs[i].container].push_back(i);
  std::set<std::string> referenced;
  std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> pick(0.0, 100.0);

  for (uint32_t k = 0; k < cat.containers.size(); ++k) {
    const catalog::Container& c = cat.containers[k];
    referenced.insert(c.name);
    ++r.containers;
    auto mark_all = [&] {
      for (uint32_t b : by_container[k]) bad_blob[b] = true;
    };
    std::optional<uint64_t> size;
    try {
      size = store.head(c.name);
    } catch (const Error& e) {
      problem(k, std::string("cannot be read: ") + e.what());
      mark_all();
      continue;
    }
    if (!size) {
      problem(k, "missing from the store");
      mark_all();
      continue;
    }
    std::vector<container::IndexEntry> index;
    bool index_ok = true;
    if (*size != c.size) {
      problem(k, fmt::format("has {} bytes, the catalog recorded {}", *size, c.size));
      // Blobs past the end are lost; those before it are checked one by one by VERIFY DATA.
      for (uint32_t b : by_container[k])
        if (cat.blobs[b].offset + cat.blobs[b].length > *size) bad_blob[b] = true;
      index_ok = false;
    }
    if (index_ok) try {
      container::check_header(store.get_range(c.name, 0, container::kHeaderSize));
      container::Footer f = container::parse_footer(store.get_range(c.name, *size - container::kFooterSize, container::kFooterSize), *size);
      index = container::parse_index(repo.keys(), store.get_range(c.name, f.index_offset, f.index_length));
    } catch (const Error& e) {
      // The catalog's own blob locations still reach every blob: the files are not lost (VERIFY
      // DATA authenticates them one by one), but DB REBUILD could not use this container.
      problem(k, std::string("its header, footer or index is damaged (") + e.what() + "); its files are checked by VERIFY DATA, DB REBUILD could not use it");
      index_ok = false;
    }
    std::set<std::tuple<uint64_t, uint64_t, crypto::Iv, crypto::Mac>> listed;
    for (const auto& e : index) listed.insert({e.blob.offset, e.blob.length, e.blob.iv, e.blob.mac});
    for (uint32_t b : by_container[k]) {
      if (!index_ok) break;
      const catalog::BlobRef& ref = cat.blobs[b];
      ++r.blobs_checked;
      if (!listed.count({ref.offset, ref.length, ref.iv, ref.mac})) {
        bad_blob[b] = true;
        problem(k, fmt::format("does not list the blob at offset {} that the catalog points at", ref.offset));
      }
    }
    if (!o.data) continue;
    std::vector<uint32_t> chosen;
    for (uint32_t b : by_container[k])
      if (!bad_blob[b] && (o.percent >= 100.0 || pick(rng) < o.percent)) chosen.push_back(b);
    std::sort(chosen.begin(), chosen.end(), [&](uint32_t a, uint32_t b) { return cat.blobs[a].offset < cat.blobs[b].offset; });
    // Neighbouring blobs in one read of up to 8 MiB.
    size_t i = 0;
    while (i < chosen.size()) {
      size_t j = i + 1;
      uint64_t start = cat.blobs[chosen[i]].offset;
      uint64_t end = start + cat.blobs[chosen[i]].length;
      while (j < chosen.size() && cat.blobs[chosen[j]].offset >= end && cat.blobs[chosen[j]].offset - end < (256u << 10) &&
             cat.blobs[chosen[j]].offset + cat.blobs[chosen[j]].length - start <= (8u << 20)) {
        end = std::max(end, cat.blobs[chosen[j]].offset + cat.blobs[chosen[j]].length);
        ++j;
      }
      std::string data;
      std::string read_problem;
      try {
        data = store.get_range(c.name, start, end - start);
      } catch (const Error& e) {
        read_problem = e.what();
      }
      for (size_t q = i; q < j; ++q) {
        uint32_t b = chosen[q];
        const catalog::BlobRef& ref = cat.blobs[b];
        ++r.blobs_read;
        try {
          if (!read_problem.empty()) throw Error(ErrorKind::kCorruption, read_problem);
          container::open_blob(repo.keys(), blob_location(ref), std::string_view(data).substr(ref.offset - start, ref.length));
        } catch (const Error& e) {
          bad_blob[b] = true;
          problem(k, fmt::format("the blob at offset {} is damaged ({})", ref.offset, e.what()));
        }
      }
      i = j;
    }
  }

  // Which files and backups the damage touches.
  if (r.problems > 0) {
    std::vector<bool> bad_content(cat.contents.size(), false);
    for (uint32_t ci = 0; ci < cat.contents.size(); ++ci) {
      const auto& c = cat.contents[ci];
      for (uint32_t b = c.first_blob; b < c.first_blob + c.blob_count; ++b)
        if (bad_blob[b]) bad_content[ci] = true;
    }
    for (uint32_t e = 0; e < cat.entries.size(); ++e)
      for (uint32_t v = cat.entries[e].latest; v != catalog::kNone; v = cat.versions[v].prev) {
        const auto& ver = cat.versions[v];
        if (ver.type != catalog::Type::kFile || !bad_content[ver.content]) continue;
        std::string line = fmt::format("{} (version of the backup of {})", cat.path(e), format_listing(cat.backups[ver.backup].time_ns));
        log::error("Damaged file: {}", line);
        r.damaged_files.push_back(std::move(line));
      }
  }
  for (const auto& o2 : store.list(kContainerPrefix))
    if (!referenced.count(o2.name)) ++r.unreferenced;
  return r;
}

}  // namespace seshat::repo
