// A repository in a store: the only code that combines storage, crypto, container and the
// catalog encoding (DESIGN.md §2). Layout (doc/format/): seshat/config, seshat/keys/<id>,
// seshat/db/<generation>, seshat/locks/..., containers/SEF_*.
//
// What the layers above use is narrow: the CatalogStore (catalog_store.h), a BlobWriter for a
// backup (blob_writer.h), a BlobReader for restores (blob_reader.h), the Lock (lock.h), and
// VERIFY / DB REBUILD (verify.h, rebuild.h). Not thread-safe, except the readers and writers
// it makes, as their headers say.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/container/container.h"
#include "seshat/crypto/crypto.h"
#include "seshat/repo/blob_reader.h"
#include "seshat/repo/blob_writer.h"
#include "seshat/repo/catalog_store.h"
#include "seshat/storage/storage.h"

namespace seshat::repo {

inline constexpr const char* kConfigName = "seshat/config";
inline constexpr const char* kKeysPrefix = "seshat/keys/";
inline constexpr const char* kDbPrefix = "seshat/db/";
// Generations set aside, never pruned: the one a DB REBUILD replaced (DB GENERATIONS, DB LOAD <n>).
inline constexpr const char* kKeptPrefix = "seshat/db-kept/";
inline constexpr const char* kContainerPrefix = "containers/";
inline constexpr int kGenerationsKept = 5;

// Version of the repository layout in seshat/config: 2 since catalog format 3 (deltas), which
// a Seshat that reads only whole generations must not write to. A store of version 1 opens
// and is upgraded by its first commit.
inline constexpr int kRepositoryVersion = 2;

// The catalog generations seshat/db/<20 digits>: the CatalogStore of a repository. A
// generation is a base (the whole catalog) or a delta on the generation before it; the state
// of a generation is its chain's base plus the deltas up to it (doc/format/catalog.md).
class Generations : public CatalogStore {
 public:
  Generations(storage::Storage& store, const crypto::Keys& keys) : store_(store), keys_(keys) {}
  catalog::Catalog load() override;
  // Commits what `catalog` added and changed since it was loaded or last saved, as a delta
  // (or a new base once the chain is long: "Consolidation"); a catalog that does not extend
  // that state, or one loaded past a damaged generation, is saved whole. If another writer
  // committed first: with may_retry, its generations are read and this catalog is rebuilt
  // as theirs plus ours (ids of what this writer added may change), then committed after
  // them; without, Error(kLocked).
  uint64_t save(catalog::Catalog& catalog, bool may_retry) override;
  // Commits `catalog` whole as a new state that continues nothing (DB RESET, REBUILD, LOAD).
  uint64_t save_whole(const catalog::Catalog& catalog);
  bool changed() override;
  // The generations in the store, oldest first. Objects under seshat/db/ whose names are not
  // generations are left out with a WARN (once each).
  std::vector<GenerationInfo> list();
  // The generation last loaded or saved (0: none yet).
  uint64_t current() const { return current_; }
  // Sealed bytes of the current state in the store: its base and its deltas.
  uint64_t stored_bytes() const;
  // Deltas after the current state's base.
  uint64_t deltas() const { return deltas_; }
  // Makes the newest generation in the store (even a damaged one) the current one, so that
  // the next save goes after it (DB REBUILD, DB RESET).
  void skip_to_newest();
  // Reads every generation from the store, authenticates it and checks its header, and checks
  // that every delta's chain (its base and the generations between) is there (VERIFY).
  // Returns (name, problem) for each problem.
  std::vector<std::pair<std::string, std::string>> check_all();
  // The generations set aside under seshat/db-kept/, oldest first.
  std::vector<GenerationInfo> kept();
  // The state of the generation of that number, from seshat/db/ or seshat/db-kept/.
  // Throws Error(kNotFound) if there is none, kCorruption if it or its chain is damaged.
  catalog::Catalog read(uint64_t number);
  // Sets the state of the newest readable generation aside (whole, under seshat/db-kept/,
  // never pruned); returns its number, or 0 if there is none.
  uint64_t keep_newest();
  // The repository version read from seshat/config (Repository::open).
  void set_config_version(int v) { config_version_ = v; }

  // The local cache of generations (a remote store's): the directory, empty for none.
  void set_cache_dir(std::string dir) { cache_dir_ = std::move(dir); }

  enum class Kind : uint8_t {
    kBase = 1,      // the whole catalog, continuing the state before it (a consolidation)
    kDelta = 2,     // the changes of one commit to the state of the generation before it
    kReplaced = 3,  // the whole catalog, continuing nothing (DB RESET, REBUILD, LOAD; formats 1-2)
  };
  // One generation as read.
  struct Object {
    uint64_t number = 0;
    Kind kind = Kind::kReplaced;
    uint64_t base = 0;       // the chain's base (a base: itself)
    uint64_t prev_base = 0;  // a base: the base of the chain before it (0: none)
    uint64_t size = 0;       // sealed size in the store
    bool legacy = false;     // no header: a whole catalog written by Seshat 0.8 or older
    std::string plain;       // the payload: an encoded catalog or delta
  };

 private:
  Object read_object(const GenerationInfo& g);
  // Authenticates and decompresses one generation as read, and parses its header.
  static Object open_sealed(const crypto::Keys& keys, const GenerationInfo& g, std::string sealed);
  // From the store (read twice before it counts as damaged); `keep` gets the sealed bytes.
  Object fetch_object(const GenerationInfo& g, std::string* keep = nullptr);
  std::string cache_file(const GenerationInfo& g) const;
  // Removes cached generations the store no longer lists.
  void prune_cache(const std::vector<GenerationInfo>& gens);
  struct State {
    catalog::Catalog catalog;
    uint64_t top = 0, base = 0, prev_base = 0, base_bytes = 0, delta_bytes = 0, deltas = 0;
  };
  // The state of gens[top]. Not strict: a damaged delta ends it at the generation before.
  State state_at(const std::vector<GenerationInfo>& gens, size_t top, bool strict);
  // True if `below` is a format-3 generation (so a whole catalog without a header above it
  // was written by an old Seshat after the upgrade).
  bool follows_format3(const GenerationInfo& below);
  uint64_t commit(catalog::Catalog& catalog, bool whole, bool may_retry);
  // After losing a commit: this writer's delta re-applied after what the others committed.
  void catch_up(catalog::Catalog& catalog, const std::string& delta);
  void catch_up_to_newest(catalog::Catalog& catalog, const std::string& delta);
  void after_commit(uint64_t committed);
  // Writes a base conditionally; 0 if the name was taken.
  uint64_t write_base(const std::string& name, const catalog::Catalog& catalog, int kind, uint64_t number,
                      uint64_t prev_base);
  void upgrade_config();

  storage::Storage& store_;
  const crypto::Keys& keys_;
  uint64_t current_ = 0;
  bool chain_ok_ = false;      // the catalog last loaded or saved is the state of current_
  uint64_t fell_back_to_ = 0;  // loaded past damaged generations: the state loaded (commits refused)
  uint64_t base_ = 0;          // the base of that state's chain
  uint64_t prev_base_ = 0;     // the base of the chain before it (0: none)
  uint64_t base_bytes_ = 0, delta_bytes_ = 0, deltas_ = 0;
  catalog::Mark mark_;  // where that state stood
  int config_version_ = kRepositoryVersion;
  std::string cache_dir_;
  std::vector<std::string> warned_;
};

class Repository {
 public:
  // True if the store holds a repository (its config object exists).
  static bool exists(storage::Storage& store);
  // Creates a repository in an empty store. Throws Error(kInvalidInput) if one exists.
  static void init(storage::Storage& store, std::string_view passphrase, const crypto::KdfParams& kdf);
  // Opens it. Throws Error(kInvalidInput, "wrong passphrase ...") or kNotFound.
  static std::unique_ptr<Repository> open(std::shared_ptr<storage::Storage> store, std::string_view passphrase);

  storage::Storage& store() { return *store_; }
  const std::shared_ptr<storage::Storage>& store_ptr() const { return store_; }
  const crypto::Keys& keys() const { return keys_; }
  const std::string& id() const { return id_; }
  Generations& generations() { return generations_; }

  // A writer of the containers of one backup: containers/SEF_<host>_<folder>_<stamp>_<seq>
  // (a name never reused), closed before max_container bytes or 16 MB of index.
  std::unique_ptr<BlobWriter> blob_writer(const ContainerOrigin& origin, uint64_t max_container,
                                          BlobWriter::Hooks hooks);
  // A reader of the blobs the catalog's BlobRefs point at.
  std::unique_ptr<BlobReader> blob_reader(const catalog::Catalog& cat, ReadPlan plan = {});
  // A container's header, footer and sealed index, read and authenticated (VERIFY, DB
  // REBUILD, adopting the containers of an interrupted backup). kCorruption on damage.
  Result<container::Index> read_index(const std::string& name, uint64_t size, bool check_header);

 private:
  Repository(std::shared_ptr<storage::Storage> store, crypto::Keys keys, std::string id)
      : store_(std::move(store)), keys_(std::move(keys)), id_(std::move(id)), generations_(*store_, keys_) {}
  std::shared_ptr<storage::Storage> store_;
  crypto::Keys keys_;
  std::string id_;
  Generations generations_;
};

// The same blob as the catalog records it and as a container describes it.
container::BlobLocation blob_location(const catalog::BlobRef& ref);
catalog::BlobRef blob_ref(uint32_t container, const container::BlobLocation& loc);

// Container object names: containers/SEF_<host>_<folder>_<yyyyMMddHHmmss>_<seq>, with host
// and folder reduced to [A-Za-z0-9.-] ("/home/adrian" -> "home-adrian", "/" -> "root").
std::string container_name(const std::string& host, const std::string& folder, int64_t time_ns, int seq);

}  // namespace seshat::repo
