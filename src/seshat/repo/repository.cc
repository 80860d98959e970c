#include "seshat/repo/repository.h"

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "seshat/crypto/keyfile.h"
#include "seshat/repo/internal.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/json_int.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::repo {
namespace {

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')
      out.push_back(c);
    else if (!out.empty() && out.back() != '-')
      out.push_back('-');
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  if (out.size() > 48) out.resize(48);
  return out;
}

}  // namespace

container::BlobLocation blob_location(const catalog::BlobRef& b) {
  container::BlobLocation loc;
  loc.offset = b.offset;
  loc.length = b.length;
  loc.raw_size = b.raw_size;
  loc.compressed = b.compressed;
  loc.iv = b.iv;
  loc.mac = b.mac;
  return loc;
}

catalog::BlobRef blob_ref(uint32_t container, const container::BlobLocation& loc) {
  catalog::BlobRef b;
  b.container = container;
  b.offset = loc.offset;
  b.length = static_cast<uint32_t>(loc.length);
  b.raw_size = static_cast<uint32_t>(loc.raw_size);
  b.compressed = loc.compressed;
  b.iv = loc.iv;
  b.mac = loc.mac;
  return b;
}

std::string container_name(const std::string& host, const std::string& folder, int64_t time_ns, int seq) {
  std::string f = sanitize(folder);
  if (f.empty()) f = "root";
  std::string h = sanitize(host);
  if (h.empty()) h = "host";
  return fmt::format("{}SEF_{}_{}_{}_{:03}", kContainerPrefix, h, f, format_compact(time_ns), seq);
}

bool Repository::exists(storage::Storage& store) { return store.head(kConfigName).has_value(); }

void Repository::init(storage::Storage& store, std::string_view passphrase, const crypto::KdfParams& kdf) {
  if (exists(store)) throw Error(ErrorKind::kInvalidInput, "a repository already exists in " + store.describe());
  std::string id = to_hex(crypto::random_bytes(16));
  crypto::Keys master = crypto::Keys::random();
  std::string keyfile = crypto::make_keyfile(master, passphrase, kdf);
  // The key before the config: a config without a key would be a repository nobody can open.
  store.put(std::string(kKeysPrefix) + to_hex(crypto::random_bytes(8)), keyfile);
  nlohmann::json cfg;
  cfg["format"] = "seshat";
  cfg["version"] = kRepositoryVersion;
  cfg["id"] = id;
  cfg["created"] = format_iso(now_ns());
  if (!store.put_if_absent(kConfigName, cfg.dump(2) + "\n"))
    throw Error(ErrorKind::kInvalidInput, "a repository was created in " + store.describe() + " at the same time");
}

std::unique_ptr<Repository> Repository::open(std::shared_ptr<storage::Storage> store, std::string_view passphrase) {
  std::string id;
  int version = 0;
  try {
    auto cfg = nlohmann::json::parse(store->get(kConfigName));
    if (cfg.at("format").get<std::string>() != "seshat") throw Error(ErrorKind::kCorruption, "not a Seshat repository");
    version = json_int<int>(cfg, "version", "repository config");
    if (version < 1 || version > kRepositoryVersion)
      throw Error(ErrorKind::kCorruption,
                  "repository format version " + cfg.at("version").dump() + " is not supported by this Seshat");
    id = cfg.at("id").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kCorruption, "the repository config in " + store->describe() + " is damaged");
  }
  auto keys = store->list(kKeysPrefix);
  if (keys.empty()) throw Error(ErrorKind::kCorruption, "the repository in " + store->describe() + " has no key file");
  std::optional<Error> last;
  for (const auto& k : keys) {
    try {
      crypto::Keys master = crypto::open_keyfile(store->get(k.name), passphrase);
      auto repo = std::unique_ptr<Repository>(new Repository(std::move(store), std::move(master), id));
      repo->generations_.set_config_version(version);
      return repo;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kCorruption)
        log::warn("Key file {} is damaged: {}", k.name, e.what());
      else if (e.kind() != ErrorKind::kInvalidInput)
        throw Error(e.kind(), "cannot read the key file " + k.name + ": " + e.what());
      last = e;
    }
  }
  if (last && last->kind() == ErrorKind::kCorruption)
    throw Error(ErrorKind::kCorruption, "no usable key file in " + store->describe() + ": " + last->what());
  throw Error(ErrorKind::kInvalidInput, "wrong passphrase for the repository in " + store->describe());
}

std::unique_ptr<BlobWriter> Repository::blob_writer(const ContainerOrigin& origin, uint64_t max_container,
                                                    BlobWriter::Hooks hooks) {
  return make_container_writer(*store_, keys_, origin, max_container, std::move(hooks));
}

std::unique_ptr<BlobReader> Repository::blob_reader(const catalog::Catalog& cat, ReadPlan plan) {
  return make_store_reader(*store_, keys_, cat, plan);
}

Result<container::Index> Repository::read_index(const std::string& name, uint64_t size, bool check_header) {
  try {
    if (size < container::kHeaderSize + container::kFooterSize)
      return Error(ErrorKind::kCorruption, "too short to be a container");
    if (check_header) container::check_header(store_->get_range(name, 0, container::kHeaderSize));
    container::Footer f =
        container::parse_footer(store_->get_range(name, size - container::kFooterSize, container::kFooterSize), size);
    return container::parse_index_with_origin(keys_, store_->get_range(name, f.index_offset, f.index_length));
  } catch (const Error& e) {
    // One container's problem (damaged, gone, unreadable after the retries, in cold storage):
    // the callers report it and go on with the others. Ctrl-C stops them all.
    if (e.kind() == ErrorKind::kInterrupted || e.kind() == ErrorKind::kUnreachable) throw;
    return e;
  }
}

}  // namespace seshat::repo
