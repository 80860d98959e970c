// A repository in a store: the only code that combines storage, crypto, container and the
// catalog encoding. Layout (doc/format/): seshat/config, seshat/keys/<id>,
// seshat/db/<generation>, seshat/locks/lock, containers/SEF_*.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/container/container.h"
#include "seshat/crypto/crypto.h"
#include "seshat/storage/storage.h"

namespace seshat::repo {

inline constexpr const char* kConfigName = "seshat/config";
inline constexpr const char* kKeysPrefix = "seshat/keys/";
inline constexpr const char* kDbPrefix = "seshat/db/";
inline constexpr const char* kContainerPrefix = "containers/";
inline constexpr int kGenerationsKept = 5;

// Appends sealed blobs to one container object, streaming. Not thread-safe.
class ContainerWriter {
 public:
  ContainerWriter(std::unique_ptr<storage::ObjectWriter> out, std::string name, const crypto::Keys& keys,
                  container::Origin origin = {});
  ~ContainerWriter();  // aborts unless finished
  // A blob is added in two steps, so that its bytes can be written outside a lock: reserve()
  // places it and adds it to the index; write_reserved() must then be called with the blobs'
  // ciphertexts in the order they were reserved, before finish(). REQUIRES: not finished.
  container::BlobLocation reserve(const container::SealedBlob& blob, const container::FileInfo& file) {
    return builder_.add(blob, file);
  }
  void write_reserved(std::string_view ciphertext);
  uint64_t size() const { return builder_.size(); }
  size_t count() const { return builder_.count(); }
  size_t index_size() const { return builder_.index_size(); }
  void reserve_index(size_t bytes) { builder_.reserve_index(bytes); }
  const std::string& name() const { return name_; }
  // Writes the index and footer and commits the object; returns its total size.
  uint64_t finish();

 private:
  std::unique_ptr<storage::ObjectWriter> out_;
  std::string name_;
  const crypto::Keys& keys_;
  container::Builder builder_;
  bool finished_ = false;
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

  // Loads the newest readable catalog generation; an empty catalog if there is none.
  // A damaged newest generation is reported (WARN, by name) and the one before it used.
  catalog::Catalog load_catalog();
  // The generation that load_catalog() returned (0 = none yet).
  uint64_t generation() const { return generation_; }
  // Writes the catalog as generation()+1 with a conditional create, so that a concurrent
  // writer is detected (Error kLocked) instead of overwritten; then drops old generations.
  // Returns the stored size.
  uint64_t save_catalog(const catalog::Catalog& catalog);
  // Names of the generations in the store, oldest first.
  std::vector<storage::ObjectInfo> list_generations();

  std::unique_ptr<ContainerWriter> create_container(const std::string& name, container::Origin origin = {});
  // Makes generation() the newest generation in the store (even a damaged one), so that the
  // next save does not collide with it (DB REBUILD).
  void skip_to_newest_generation();
  // Reads, authenticates and decodes one blob. Throws Error(kCorruption|kNotFound).
  std::string read_blob(const std::string& container, const container::BlobLocation& loc);

 private:
  Repository(std::shared_ptr<storage::Storage> store, crypto::Keys keys, std::string id)
      : store_(std::move(store)), keys_(std::move(keys)), id_(std::move(id)) {}
  std::shared_ptr<storage::Storage> store_;
  crypto::Keys keys_;
  std::string id_;
  uint64_t generation_ = 0;
};

// The same blob as the catalog records it and as a container describes it.
container::BlobLocation blob_location(const catalog::BlobRef& ref);
catalog::BlobRef blob_ref(uint32_t container, const container::BlobLocation& loc);

// Container object names: containers/SEF_<host>_<folder>_<yyyyMMddHHmmss>_<seq>, with host
// and folder reduced to [A-Za-z0-9.-] ("/home/adrian" -> "home-adrian", "/" -> "root").
std::string container_name(const std::string& host, const std::string& folder, int64_t time_ns, int seq);

}  // namespace seshat::repo
