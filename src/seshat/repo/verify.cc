#include "seshat/repo/verify.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <tuple>

#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"
#include "seshat/util/workers.h"

namespace seshat::repo {
namespace {

std::string short_name(const std::string& n) { return n.substr(n.rfind('/') + 1); }

class Verifier {
 public:
  Verifier(Repository& repo, const catalog::Catalog& cat, const VerifyOptions& o)
      : repo_(repo), cat_(cat), o_(o), bad_blob_(cat.blobs.size(), false), by_container_(cat.containers.size()) {
    for (uint32_t i = 0; i < cat.blobs.size(); ++i) by_container_[cat.blobs[i].container].push_back(i);
  }

  VerifyResult run() {
    check_generations();
    for (uint32_t k = 0; k < cat_.containers.size(); ++k) check_container(k);
    read_blobs();
    if (r_.problems > 0) name_damaged_files();
    for (const auto& o : repo_.store().list(kContainerPrefix))
      if (!referenced_.count(o.name)) ++r_.unreferenced;
    return r_;
  }

 private:
  void problem(uint32_t container, const std::string& what) {
    ++r_.problems;
    log::error("Container {}: {}", short_name(cat_.containers[container].name), what);
  }

  void check_generations() {
    r_.generations = repo_.generations().list().size();
    for (const auto& [name, what] : repo_.generations().check_all()) {
      ++r_.problems;
      log::error("Catalog generation {} is damaged: {}", name, what);
    }
  }

  // The container exists with its recorded size, and its index lists every blob the catalog
  // points at; the blobs to download are chosen.
  void check_container(uint32_t k) {
    const catalog::Container& c = cat_.containers[k];
    referenced_.insert(c.name);
    ++r_.containers;
    std::optional<uint64_t> size;
    try {
      size = repo_.store().head(c.name);
    } catch (const Error& e) {
      return lost(k, std::string("cannot be read: ") + e.what());
    }
    if (!size) return lost(k, "missing from the store");
    if (*size != c.size) {
      problem(k, fmt::format("has {} bytes, the catalog recorded {}", *size, c.size));
      // Blobs past the end are lost; those before it are checked one by one by VERIFY DATA.
      for (uint32_t b : by_container_[k])
        if (cat_.blobs[b].offset + cat_.blobs[b].length > *size) bad_blob_[b] = true;
    } else if (auto index = repo_.read_index(c.name, *size, true); !index) {
      // The catalog's own blob locations still reach every blob: the files are not lost (VERIFY
      // DATA authenticates them one by one), but DB REBUILD could not use this container.
      bool damaged = index.error().kind() == ErrorKind::kCorruption;
      problem(k, std::string(damaged ? "its header, footer or index is damaged (" : "its index cannot be read (") +
                     index.error().what() + "); its files are checked by VERIFY DATA, DB REBUILD could not use it");
    } else {
      compare_index(k, *index);
    }
    choose_blobs(k);
  }

  void lost(uint32_t k, const std::string& why) {
    problem(k, why);
    for (uint32_t b : by_container_[k]) bad_blob_[b] = true;
  }

  void compare_index(uint32_t k, const container::Index& index) {
    std::set<std::tuple<uint64_t, uint64_t, crypto::Iv, crypto::Mac>> listed;
    for (const auto& e : index.entries) listed.insert({e.blob.offset, e.blob.length, e.blob.iv, e.blob.mac});
    for (uint32_t b : by_container_[k]) {
      const catalog::BlobRef& ref = cat_.blobs[b];
      ++r_.blobs_checked;
      if (!listed.count({ref.offset, ref.length, ref.iv, ref.mac})) {
        bad_blob_[b] = true;
        problem(k, fmt::format("does not list the blob at offset {} that the catalog points at", ref.offset));
      }
    }
  }

  void choose_blobs(uint32_t k) {
    if (!o_.data) return;
    for (uint32_t b : by_container_[k])
      if (!bad_blob_[b] && (o_.percent >= 100.0 || pick_(rng_) < o_.percent)) to_read_.push_back({&cat_.blobs[b], b});
  }

  // The chosen blobs, downloaded and authenticated as a restore reads them (one read plan,
  // one fallback).
  void read_blobs() {
    if (to_read_.empty()) return;
    std::mutex mu;
    r_.blobs_read = to_read_.size();
    uint64_t bytes = 0;
    for (const auto& req : to_read_) bytes += req.ref->raw_size;
    Progress progress(to_read_.size(), bytes, "Verify");
    BlobReader::Sink sink;
    sink.blob = [&progress](uint64_t, std::string_view plain) {
      progress.add_bytes(plain.size());
      progress.add();
    };
    sink.failed = [&](uint64_t b, const Error& e) {
      if (e.kind() == ErrorKind::kInterrupted) throw e;
      std::lock_guard<std::mutex> lk(mu);
      bad_blob_[b] = true;
      problem(cat_.blobs[b].container,
              fmt::format("the blob at offset {} {} ({})", cat_.blobs[b].offset,
                          e.kind() == ErrorKind::kCorruption ? "is damaged" : "cannot be read", e.what()));
    };
    repo_.blob_reader(cat_)->read(std::move(to_read_), worker_threads(2), sink);
  }

  // Which file versions (and so which backups) the damage touches.
  void name_damaged_files() {
    std::vector<bool> bad_content(cat_.contents.size(), false);
    for (uint32_t ci = 0; ci < cat_.contents.size(); ++ci) {
      const auto& c = cat_.contents[ci];
      for (uint32_t b = c.first_blob; b < c.first_blob + c.blob_count; ++b)
        if (bad_blob_[b]) bad_content[ci] = true;
    }
    for (uint32_t e = 0; e < cat_.entries.size(); ++e)
      for (uint32_t v = cat_.entries[e].latest; v != catalog::kNone; v = cat_.versions[v].prev) {
        const auto& ver = cat_.versions[v];
        if (ver.type != catalog::Type::kFile || !bad_content[ver.content]) continue;
        std::string line = fmt::format("{} (version of the backup of {})", cat_.path(e),
                                       format_listing(cat_.backups[ver.backup].time_ns));
        log::error("Damaged file: {}", line);
        r_.damaged_files.push_back(std::move(line));
      }
  }

  Repository& repo_;
  const catalog::Catalog& cat_;
  const VerifyOptions& o_;
  VerifyResult r_;
  std::vector<bool> bad_blob_;
  std::vector<std::vector<uint32_t>> by_container_;
  std::set<std::string> referenced_;
  std::vector<BlobRequest> to_read_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::uniform_real_distribution<double> pick_{0.0, 100.0};
};

}  // namespace

VerifyResult verify(Repository& repo, const catalog::Catalog& cat, const VerifyOptions& o) {
  return Verifier(repo, cat, o).run();
}

}  // namespace seshat::repo
