// The catalog generations: seshat/db/<generation, 20 digits>, each the whole catalog encoded,
// compressed and sealed (doc/format/catalog.md).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "seshat/catalog/codec.h"
#include "seshat/repo/repository.h"
#include "seshat/util/fault.h"
#include "seshat/util/log.h"
#include "seshat/util/zstd.h"

namespace seshat::repo {
namespace {

std::string generation_name(uint64_t gen, const char* prefix = kDbPrefix) {
  return fmt::format("{}{:020}", prefix, gen);
}

// The generation a name holds; nullopt for anything else (other digits, a number past the
// 64-bit range, a name of the wrong length).
std::optional<uint64_t> parse_generation(const std::string& name, const char* prefix = kDbPrefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  std::string_view digits = std::string_view(name).substr(std::string_view(prefix).size());
  if (digits.size() != 20 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

// Plain catalogs above this are refused before anything is allocated.
constexpr uint64_t kMaxCatalogBytes = 16ull << 30;

}  // namespace

std::vector<GenerationInfo> Generations::list() {
  std::vector<GenerationInfo> out;
  for (auto& o : store_.list(kDbPrefix)) {
    auto n = parse_generation(o.name);
    if (n && *n > 0 && *n < UINT64_MAX) {
      out.push_back({*n, std::move(o.name), o.size});
    } else if (std::find(warned_.begin(), warned_.end(), o.name) == warned_.end()) {
      log::warn("Ignoring {}: not a catalog generation of this format", o.name);
      warned_.push_back(o.name);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const GenerationInfo& a, const GenerationInfo& b) { return a.number < b.number; });
  return out;
}

namespace {

catalog::Catalog read_generation(storage::Storage& store, const crypto::Keys& keys, const std::string& name) {
  std::string plain;
  {
    // Decrypted where it was read, and freed before decoding: at most the compressed and
    // the plain catalog are in memory at once, then the plain one and the decoded one.
    std::string sealed = store.get(name);
    std::string_view z = crypto::open_packed_in_place(keys, sealed);
    auto n = zstd::frame_size(z, kMaxCatalogBytes);
    if (!n) throw n.error();
    if (Status st = zstd::decompress(z, *n, plain); !st) throw st.error();
    plain.resize(*n);
  }
  return catalog::decode(plain);
}

}  // namespace

std::vector<GenerationInfo> Generations::kept() {
  std::vector<GenerationInfo> out;
  for (auto& o : store_.list(kKeptPrefix))
    if (auto n = parse_generation(o.name, kKeptPrefix); n && *n > 0 && *n < UINT64_MAX)
      out.push_back({*n, std::move(o.name), o.size});
  std::sort(out.begin(), out.end(),
            [](const GenerationInfo& a, const GenerationInfo& b) { return a.number < b.number; });
  return out;
}

catalog::Catalog Generations::read(uint64_t number) {
  for (const auto& g : list())
    if (g.number == number) return read_generation(store_, keys_, g.name);
  for (const auto& g : kept())
    if (g.number == number) return read_generation(store_, keys_, g.name);
  throw Error(ErrorKind::kNotFound,
              "there is no DB generation " + std::to_string(number) + " (DB GENERATIONS lists them)");
}

uint64_t Generations::keep_newest() {
  auto gens = list();
  for (auto it = gens.rbegin(); it != gens.rend(); ++it) {
    try {
      std::string sealed = store_.get(it->name);
      crypto::open_packed(keys_, sealed);  // only a readable one is worth keeping
      std::string name = generation_name(it->number, kKeptPrefix);
      if (!store_.try_get(name)) store_.put(name, sealed);
      return it->number;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kCorruption && e.kind() != ErrorKind::kNotFound) throw;
    }
  }
  return 0;
}

catalog::Catalog Generations::load() {
  auto gens = list();
  for (auto it = gens.rbegin(); it != gens.rend(); ++it) {
    try {
      catalog::Catalog c = read_generation(store_, keys_, it->name);
      // After falling back past a damaged generation, the next save goes after the newest
      // one that exists (the damaged name is taken).
      current_ = gens.back().number;
      return c;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kCorruption && e.kind() != ErrorKind::kNotFound) throw;
      log::warn("Catalog generation {} is damaged ({}); trying the one before it", it->name, e.what());
    }
  }
  if (!gens.empty())
    throw Error(ErrorKind::kCorruption, "every catalog generation in " + store_.describe() + " is damaged");
  current_ = 0;
  return {};
}

uint64_t Generations::save(const catalog::Catalog& catalog) {
  if (current_ >= UINT64_MAX - 1) throw Error(ErrorKind::kCorruption, "the catalog generation counter is exhausted");
  uint64_t next = current_ + 1;
  uint64_t sealed_size = 0;
  // Encoded, compressed and sealed as a stream into the store: a local store never holds
  // the sealed catalog whole (S3 collects it for its one conditional PUT).
  auto produce = [&](const storage::Storage::Sink& sink) {
    sealed_size = 0;
    crypto::PackedSealer sealer(keys_, [&](std::string_view piece) {
      sealed_size += piece.size();
      sink(piece);
    });
    // The frame records its content size (load checks it): one counting pass first.
    uint64_t plain_size = 0;
    catalog::encode_to(catalog, [&](std::string_view piece) { plain_size += piece.size(); });
    zstd::Compressor z(3, plain_size, [&](std::string_view piece) { sealer.update(piece); });
    catalog::encode_to(catalog, [&](std::string_view piece) { z.update(piece); });
    z.finish();
    sealer.finish();
  };
  fault::point("catalog.before_put");
  if (!store_.put_if_absent_stream(generation_name(next), produce))
    throw Error(ErrorKind::kLocked, "another process saved the catalog at the same time (generation " +
                                        std::to_string(next) + "); run the command again");
  current_ = next;
  fault::point("catalog.after_put");
  // Read back: the commit counts only if readers will take it, as the newest generation.
  auto gens = list();
  if (gens.empty() || parse_generation(gens.back().name) != next)
    throw Error(ErrorKind::kCorruption,
                "the catalog was written as generation " + std::to_string(next) + " but " +
                    (gens.empty() ? std::string("the store does not list it") : gens.back().name + " is newer") +
                    "; run DB REBUILD or remove the stray object");
  // Only after the new generation is stored do old ones go.
  std::vector<std::string> old;
  for (size_t i = 0; i + kGenerationsKept < gens.size(); ++i) old.push_back(gens[i].name);
  if (!old.empty()) {
    try {
      store_.remove_many(old);
    } catch (const Error& e) {
      // The new generation is safe; an old one left behind only costs space.
      log::warn("Could not remove old catalog generations: {}", e.what());
    }
  }
  return sealed_size;
}

bool Generations::changed() {
  auto gens = list();
  return (gens.empty() ? 0 : gens.back().number) != current_;
}

void Generations::skip_to_newest() {
  auto gens = list();
  if (!gens.empty()) current_ = std::max(current_, gens.back().number);
}

void Generations::check(const GenerationInfo& g) { crypto::open_packed(keys_, store_.get(g.name)); }

}  // namespace seshat::repo
