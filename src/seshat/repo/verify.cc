#include "seshat/repo/verify.h"

#include <algorithm>
#include <mutex>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "seshat/util/error.h"
#include "seshat/util/workers.h"
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
  for (const auto& g : repo.generations().list()) {
    ++r.generations;
    try {
      repo.generations().check(g);
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
  std::vector<BlobRequest> to_read;

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
    bool index_ok = true;
    std::set<std::tuple<uint64_t, uint64_t, crypto::Iv, crypto::Mac>> listed;
    if (*size != c.size) {
      problem(k, fmt::format("has {} bytes, the catalog recorded {}", *size, c.size));
      // Blobs past the end are lost; those before it are checked one by one by VERIFY DATA.
      for (uint32_t b : by_container[k])
        if (cat.blobs[b].offset + cat.blobs[b].length > *size) bad_blob[b] = true;
      index_ok = false;
    } else if (auto index = repo.read_index(c.name, *size, true); !index) {
      // The catalog's own blob locations still reach every blob: the files are not lost (VERIFY
      // DATA authenticates them one by one), but DB REBUILD could not use this container.
      problem(k, std::string("its header, footer or index is damaged (") + index.error().what() +
                     "); its files are checked by VERIFY DATA, DB REBUILD could not use it");
      index_ok = false;
    } else {
      for (const auto& e : index->entries) listed.insert({e.blob.offset, e.blob.length, e.blob.iv, e.blob.mac});
    }
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
    for (uint32_t b : by_container[k])
      if (!bad_blob[b] && (o.percent >= 100.0 || pick(rng) < o.percent)) to_read.push_back({&cat.blobs[b], b});
  }

  // The blobs to authenticate, read as a restore reads them (one plan, one fallback).
  if (!to_read.empty()) {
    std::mutex mu;
    r.blobs_read = to_read.size();
    BlobReader::Sink sink;
    sink.blob = [](uint64_t, std::string_view) {};
    sink.failed = [&](uint64_t b, const Error& e) {
      if (e.kind() == ErrorKind::kInterrupted) throw e;
      std::lock_guard<std::mutex> lk(mu);
      bad_blob[b] = true;
      problem(cat.blobs[b].container, fmt::format("the blob at offset {} is damaged ({})", cat.blobs[b].offset, e.what()));
    };
    repo.blob_reader(cat)->read(std::move(to_read), worker_threads(2), sink);
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
