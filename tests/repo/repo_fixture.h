// A repository in a temporary local store, with cheap key derivation, for the repo tests.
#pragma once
#include <memory>
#include <string>

#include "../test_support.h"
#include "seshat/repo/repository.h"
#include "seshat/storage/local_storage.h"

namespace seshat::repo::test {

struct TestRepo {
  testing_support::TempDir dir;
  std::shared_ptr<storage::LocalStorage> store = std::make_shared<storage::LocalStorage>(dir / "store");
  std::unique_ptr<Repository> repo;
  TestRepo() {
    Repository::init(*store, "passphrase", crypto::KdfParams{1, 8192});
    repo = Repository::open(store, "passphrase");
  }
  std::string file(const std::string& name) const { return dir / ("store/" + name); }
};

// Stores `blobs` (plaintexts) for one backup of /src through the repository's BlobWriter,
// with the catalog bookkeeping a backup does; returns the catalog.
inline catalog::Catalog store_files(Repository& repo, const std::vector<std::pair<std::string, std::string>>& files,
                                    uint64_t max_container = 8ull << 30) {
  catalog::Catalog cat;
  uint32_t folder = cat.find_or_add_folder(cat.find_or_add_host("h"), "/src");
  uint32_t backup = cat.add_backup(folder, 1700000000000000000LL);
  cat.backups[backup].complete = true;
  BlobWriter::Hooks hooks;
  hooks.opened = [&](const std::string& name) { return cat.add_container(name, 0); };
  hooks.committed = [&](uint32_t id, uint64_t size, size_t, bool) { cat.containers[id].size = size; };
  auto w = repo.blob_writer({"h", "/src", cat.backups[backup].time_ns}, max_container, hooks);
  cat.add_version(cat.folders[folder].root, catalog::Version::dir(backup, {.mode = 0755}));
  for (const auto& [name, data] : files) {
    SealedBuffer b;
    w->seal(data, b);
    catalog::Hash h = ContentHash::of(data);
    std::string path = "/src/" + name;
    BlobOrigin o;
    o.path = path;
    o.file_size = data.size();
    o.hash = h;
    Placement p = w->place(b, o);
    w->write(p, b.bytes);
    uint32_t content = cat.add_content(h, data.size(), {p.ref});
    uint32_t e = cat.add_entry(cat.folders[folder].root, name);
    cat.add_version(e, catalog::Version::file(backup, {.mode = 0644}, data.size(), content));
  }
  w->finish();
  cat.build_child_index();
  return cat;
}

}  // namespace seshat::repo::test
