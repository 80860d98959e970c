#include "seshat/repo/repository.h"

#include <zstd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "seshat/catalog/codec.h"
#include "seshat/crypto/keyfile.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/json_int.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::repo {
namespace {

std::string generation_name(uint64_t gen) { return fmt::format("{}{:020}", kDbPrefix, gen); }

std::optional<uint64_t> parse_generation(const std::string& name) {
  if (!name.starts_with(kDbPrefix)) return std::nullopt;
  std::string digits = name.substr(std::string_view(kDbPrefix).size());
  if (digits.size() != 20 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
  return std::stoull(digits);
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') out.push_back(c);
    else if (!out.empty() && out.back() != '-') out.push_back('-');
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

ContainerWriter::ContainerWriter(std::unique_ptr<storage::ObjectWriter> out, std::string name, const crypto::Keys& keys,
                                 container::Origin origin)
    : out_(std::move(out)), name_(std::move(name)), keys_(keys), builder_(std::move(origin)) {
  out_->write(builder_.header());
}

ContainerWriter::~ContainerWriter() {
  if (!finished_) {
    try {
      out_->abort();
    } catch (...) {
    }
  }
}

void ContainerWriter::write_reserved(std::string_view ciphertext) { out_->write(ciphertext); }

uint64_t ContainerWriter::finish() {
  builder_.finish_to(keys_, [&](std::string_view piece) { out_->write(piece); });
  out_->commit();
  finished_ = true;
  return out_->size();
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
  cfg["version"] = 1;
  cfg["id"] = id;
  cfg["created"] = format_iso(now_ns());
  if (!store.put_if_absent(kConfigName, cfg.dump(2) + "\n"))
    throw Error(ErrorKind::kInvalidInput, "a repository was created in " + store.describe() + " at the same time");
}

std::unique_ptr<Repository> Repository::open(std::shared_ptr<storage::Storage> store, std::string_view passphrase) {
  std::string id;
  try {
    auto cfg = nlohmann::json::parse(store->get(kConfigName));
    if (cfg.at("format").get<std::string>() != "seshat") throw Error(ErrorKind::kCorruption, "not a Seshat repository");
    if (json_int<int>(cfg, "version", "repository config") != 1)
      throw Error(ErrorKind::kCorruption, "repository format version " + cfg.at("version").dump() + " is not supported by this Seshat");
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
      return std::unique_ptr<Repository>(new Repository(std::move(store), std::move(master), id));
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kCorruption) log::warn("Key file {} is damaged: {}", k.name, e.what());
      else if (e.kind() != ErrorKind::kInvalidInput) throw Error(e.kind(), "cannot read the key file " + k.name + ": " + e.what());
      last = e;
    }
  }
  if (last && last->kind() == ErrorKind::kCorruption)
    throw Error(ErrorKind::kCorruption, "no usable key file in " + store->describe() + ": " + last->what());
  throw Error(ErrorKind::kInvalidInput, "wrong passphrase for the repository in " + store->describe());
}

std::vector<storage::ObjectInfo> Repository::list_generations() {
  std::vector<storage::ObjectInfo> out;
  for (auto& o : store_->list(kDbPrefix))
    if (parse_generation(o.name)) out.push_back(std::move(o));
  return out;  // sorted by name = by generation (fixed width)
}

catalog::Catalog Repository::load_catalog() {
  auto gens = list_generations();
  for (auto it = gens.rbegin(); it != gens.rend(); ++it) {
    try {
      std::string plain;
      {
        // Decrypted where it was read, and freed before decoding: at most the compressed and
        // the plain catalog are in memory at once, then the plain one and the decoded one.
        std::string sealed = store_->get(it->name);
        std::string_view z = crypto::open_packed_in_place(keys_, sealed);
        unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
        if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (16ull << 30) || n > z.size() * 32768ull)
          throw Error(ErrorKind::kCorruption, "bad compressed frame");
        plain.resize(n);
        size_t r = ZSTD_decompress(plain.data(), plain.size(), z.data(), z.size());
        if (ZSTD_isError(r) || r != n) throw Error(ErrorKind::kCorruption, "bad compressed data");
      }
      catalog::Catalog c = catalog::decode(plain);
      // After falling back past a damaged generation, the next save goes after the newest
      // one that exists (the damaged name is taken).
      generation_ = *parse_generation(gens.back().name);
      return c;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kCorruption && e.kind() != ErrorKind::kNotFound) throw;
      log::warn("Catalog generation {} is damaged ({}); trying the one before it", it->name, e.what());
    }
  }
  if (!gens.empty()) throw Error(ErrorKind::kCorruption, "every catalog generation in " + store_->describe() + " is damaged");
  generation_ = 0;
  return {};
}

uint64_t Repository::save_catalog(const catalog::Catalog& catalog) {
  uint64_t next = generation_ + 1;
  uint64_t sealed_size = 0;
  // Encoded, compressed and sealed as a stream into the store: a local store never holds
  // the sealed catalog whole (S3 collects it for its one conditional PUT).
  auto produce = [&](const storage::Storage::Sink& sink) {
    sealed_size = 0;
    crypto::PackedSealer sealer(keys_, [&](std::string_view piece) {
      sealed_size += piece.size();
      sink(piece);
    });
    std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> zc(ZSTD_createCCtx(), ZSTD_freeCCtx);
    if (!zc || ZSTD_isError(ZSTD_CCtx_setParameter(zc.get(), ZSTD_c_compressionLevel, 3)))
      throw Error(ErrorKind::kPermanent, "cannot compress the catalog");
    // The frame records its content size (load_catalog checks it): one counting pass first.
    uint64_t plain_size = 0;
    catalog::encode_to(catalog, [&](std::string_view piece) { plain_size += piece.size(); });
    if (ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(zc.get(), plain_size))) throw Error(ErrorKind::kPermanent, "cannot compress the catalog");
    std::string zbuf(ZSTD_CStreamOutSize(), '\0');
    auto pump = [&](std::string_view piece, ZSTD_EndDirective mode) {
      ZSTD_inBuffer in{piece.data(), piece.size(), 0};
      for (;;) {
        ZSTD_outBuffer out{zbuf.data(), zbuf.size(), 0};
        size_t left = ZSTD_compressStream2(zc.get(), &out, &in, mode);
        if (ZSTD_isError(left)) throw Error(ErrorKind::kPermanent, "cannot compress the catalog");
        sealer.update(std::string_view(zbuf.data(), out.pos));
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
      }
    };
    catalog::encode_to(catalog, [&](std::string_view piece) { pump(piece, ZSTD_e_continue); });
    pump({}, ZSTD_e_end);
    sealer.finish();
  };
  fault::point("catalog.before_put");
  if (!store_->put_if_absent_stream(generation_name(next), produce))
    throw Error(ErrorKind::kLocked, "another process saved the catalog at the same time (generation " + std::to_string(next) +
                                        "); run the command again");
  generation_ = next;
  fault::point("catalog.after_put");
  // Only after the new generation is stored do old ones go.
  auto gens = list_generations();
  std::vector<std::string> old;
  for (size_t i = 0; i + kGenerationsKept < gens.size(); ++i) old.push_back(gens[i].name);
  if (!old.empty()) {
    try {
      store_->remove_many(old);
    } catch (const Error& e) {
      // The new generation is safe; an old one left behind only costs space.
      log::warn("Could not remove old catalog generations: {}", e.what());
    }
  }
  return sealed_size;
}

std::unique_ptr<ContainerWriter> Repository::create_container(const std::string& name, container::Origin origin) {
  return std::make_unique<ContainerWriter>(store_->create(name), name, keys_, std::move(origin));
}

void Repository::skip_to_newest_generation() {
  auto gens = list_generations();
  if (!gens.empty()) generation_ = std::max(generation_, *parse_generation(gens.back().name));
}

std::string Repository::read_blob(const std::string& container, const container::BlobLocation& loc) {
  return container::open_blob(keys_, loc, store_->get_range(container, loc.offset, loc.length));
}

}  // namespace seshat::repo
