// The catalog generations: seshat/db/<generation, 20 digits>, each either a base (the whole
// catalog) or a delta (what one commit added and changed, on top of the generation before
// it), all compressed and sealed (doc/format/catalog.md).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "seshat/catalog/codec.h"
#include "seshat/crypto/crypto.h"
#include "seshat/repo/repository.h"
#include "seshat/util/bytes.h"
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

// The header of a format-3 generation: "SGEN", version, kind, its own number, the base its
// chain starts at, the base before that one (0: none).
constexpr char kGenMagic[4] = {'S', 'G', 'E', 'N'};
constexpr uint32_t kGenVersion = 3;
using Kind = Generations::Kind;
// A delta chain longer than this, or whose deltas add up to more than a quarter of its
// base, is consolidated by the next commit (doc/format/catalog.md, "Consolidation").
constexpr uint64_t kMaxDeltas = 64;
// How often a writer that lost a commit race reads what won and tries again.
constexpr int kCommitAttempts = 32;

std::string header(Kind kind, uint64_t number, uint64_t base, uint64_t prev_base) {
  ByteWriter w;
  w.bytes(std::string_view(kGenMagic, 4));
  w.u32(kGenVersion);
  w.u8(static_cast<uint8_t>(kind));
  w.varint(number);
  w.varint(base);
  w.varint(prev_base);
  return std::move(w.data());
}

// Authenticates and decompresses one generation as read, and parses its header. An object
// of format 1 or 2 (a whole catalog with no header) is a replaced base.
}  // namespace

Generations::Object Generations::open_sealed(const crypto::Keys& keys, const GenerationInfo& g, std::string sealed) {
  Generations::Object o;
  o.number = g.number;
  {
    // Decrypted where it was read, and freed before decoding: at most the compressed and
    // the plain catalog are in memory at once, then the plain one and the decoded one.
    o.size = sealed.size();
    std::string_view z = crypto::open_packed_in_place(keys, sealed);
    auto n = zstd::frame_size(z, kMaxCatalogBytes);
    if (!n) throw n.error();
    if (Status st = zstd::decompress(z, *n, o.plain); !st) throw st.error();
    o.plain.resize(*n);
  }
  if (o.plain.size() >= 4 && std::memcmp(o.plain.data(), kGenMagic, 4) == 0) {
    ByteReader r(o.plain);
    r.bytes(4);
    if (r.u32() != kGenVersion)
      throw Error(ErrorKind::kCorruption, "catalog is damaged: unsupported generation format");
    uint8_t k = r.u8();
    if (k < 1 || k > 3) throw Error(ErrorKind::kCorruption, "catalog is damaged: bad generation kind");
    o.kind = static_cast<Kind>(k);
    uint64_t number = r.varint();
    o.base = r.varint();
    o.prev_base = r.varint();
    // A generation copied or renamed to another number would make another state.
    if (number != g.number || (o.kind == Kind::kDelta ? o.base >= number : o.base != number) ||
        o.prev_base >= o.base + (o.kind == Kind::kDelta ? 1 : 0))
      throw Error(ErrorKind::kCorruption, "catalog is damaged: generation header does not match its name");
    o.plain.erase(0, o.plain.size() - r.remaining());
  } else {
    o.base = g.number;
    o.legacy = true;
  }
  return o;
}

namespace {

// Compresses and seals `pieces` (produced twice: once to count, once to write) into `sink`.
void seal_into(const crypto::Keys& keys, const std::function<void(const storage::Storage::Sink&)>& pieces,
               const storage::Storage::Sink& sink, uint64_t& sealed_size) {
  sealed_size = 0;
  crypto::PackedSealer sealer(keys, [&](std::string_view piece) {
    sealed_size += piece.size();
    sink(piece);
  });
  // The frame records its content size (a reader checks it): one counting pass first.
  uint64_t plain_size = 0;
  pieces([&](std::string_view piece) { plain_size += piece.size(); });
  zstd::Compressor z(3, plain_size, [&](std::string_view piece) { sealer.update(piece); });
  pieces([&](std::string_view piece) { z.update(piece); });
  z.finish();
  sealer.finish();
}

// A pause of 1 to `max` ms, unpredictable.
int jitter_ms(int max) {
  std::string r = crypto::random_bytes(2);
  return (static_cast<unsigned char>(r[0]) << 8 | static_cast<unsigned char>(r[1])) % max + 1;
}

bool is_gone(const Error& e) { return e.kind() == ErrorKind::kCorruption || e.kind() == ErrorKind::kNotFound; }

}  // namespace

std::vector<GenerationInfo> Generations::list() {
  std::vector<GenerationInfo> out;
  for (auto& o : store_.list(kDbPrefix)) {
    auto n = parse_generation(o.name);
    if (n && *n > 0 && *n < UINT64_MAX) {
      out.push_back({*n, std::move(o.name), o.size, std::move(o.etag)});
    } else if (std::find(warned_.begin(), warned_.end(), o.name) == warned_.end()) {
      log::warn("Ignoring {}: not a catalog generation of this format", o.name);
      warned_.push_back(o.name);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const GenerationInfo& a, const GenerationInfo& b) { return a.number < b.number; });
  return out;
}

std::vector<GenerationInfo> Generations::kept() {
  std::vector<GenerationInfo> out;
  for (auto& o : store_.list(kKeptPrefix))
    if (auto n = parse_generation(o.name, kKeptPrefix); n && *n > 0 && *n < UINT64_MAX)
      out.push_back({*n, std::move(o.name), o.size, {}});
  std::sort(out.begin(), out.end(),
            [](const GenerationInfo& a, const GenerationInfo& b) { return a.number < b.number; });
  return out;
}

bool Generations::follows_format3(const GenerationInfo& below) {
  try {
    return !read_object(below).legacy;
  } catch (const Error& e) {
    if (!is_gone(e)) throw;
    return false;  // unreadable: says nothing
  }
}

Generations::State Generations::state_at(const std::vector<GenerationInfo>& gens, size_t top, bool strict) {
  auto find = [&](uint64_t number) -> const GenerationInfo* {
    auto it = std::lower_bound(gens.begin(), gens.end(), number,
                               [](const GenerationInfo& g, uint64_t n) { return g.number < n; });
    return it != gens.end() && it->number == number ? &*it : nullptr;
  };
  Object last = read_object(gens[top]);
  State s;
  s.top = last.number;
  if (last.kind != Kind::kDelta) {
    s.catalog = catalog::decode(last.plain);
    s.base = last.number;
    s.prev_base = last.prev_base;
    s.base_bytes = last.size;
    if (last.legacy && config_version_ >= kRepositoryVersion && top > 0 && follows_format3(gens[top - 1]))
      // Seshat 0.8 never writes format 3: one that had the store open before the upgrade
      // wrote this after it, from a state without the newer backups.
      throw Error(ErrorKind::kCorruption,
                  "it was written by Seshat 0.8 or older after the store was upgraded (it follows format-3 "
                  "generations and would drop the backups they hold)");
    return s;
  }
  const uint64_t top_number = last.number, base_number = last.base;
  const GenerationInfo* b = find(base_number);
  if (!b)
    throw Error(ErrorKind::kNotFound, "catalog generation " + std::to_string(base_number) + ", the base of " +
                                          gens[top].name + ", is missing");
  {
    Object base = read_object(*b);
    if (base.kind == Kind::kDelta)
      throw Error(ErrorKind::kCorruption, "catalog is damaged: " + b->name + " is not the base of " + gens[top].name);
    s.catalog = catalog::decode(base.plain);
    s.base = base.number;
    s.prev_base = base.prev_base;
    s.base_bytes = base.size;
  }
  s.top = base_number;
  // The deltas between, in order; a damaged or missing one ends the state before it.
  for (uint64_t k = base_number + 1; k <= top_number; ++k) {
    try {
      const GenerationInfo* d = k == top_number ? &gens[top] : find(k);
      if (!d) throw Error(ErrorKind::kNotFound, "it is missing");
      Object delta = k == top_number ? std::move(last) : read_object(*d);
      if (delta.kind != Kind::kDelta || delta.base != base_number)
        throw Error(ErrorKind::kCorruption, "it is not a delta of base " + std::to_string(base_number));
      catalog::apply_delta(s.catalog, delta.plain, true);
      s.delta_bytes += delta.size;
      ++s.deltas;
      s.top = k;
    } catch (const Error& e) {
      if (strict || !is_gone(e)) throw;
      log::warn("Catalog generation {} is damaged ({}); using generation {}, the one before it", generation_name(k),
                e.what(), k - 1);
      break;
    }
  }
  return s;
}

catalog::Catalog Generations::read(uint64_t number) {
  auto gens = list();
  for (size_t i = 0; i < gens.size(); ++i)
    if (gens[i].number == number) return std::move(state_at(gens, i, true).catalog);
  for (const auto& g : kept())
    if (g.number == number) return catalog::decode(read_object(g).plain);
  throw Error(ErrorKind::kNotFound,
              "there is no DB generation " + std::to_string(number) + " (DB GENERATIONS lists them)");
}

uint64_t Generations::keep_newest() {
  auto gens = list();
  for (size_t i = gens.size(); i-- > 0;) {
    try {
      State s = state_at(gens, i, true);  // only a readable one is worth keeping
      std::string name = generation_name(s.top, kKeptPrefix);
      if (!store_.head(name)) write_base(name, s.catalog, static_cast<int>(Kind::kReplaced), s.top, 0);
      return s.top;
    } catch (const Error& e) {
      if (!is_gone(e)) throw;
    }
  }
  return 0;
}

catalog::Catalog Generations::load() {
  auto gens = list();
  for (size_t i = gens.size(); i-- > 0;) {
    try {
      State s = state_at(gens, i, false);
      // After falling back past a damaged generation, the next save goes after the newest
      // one that exists (the damaged name is taken), and saves the whole catalog: a delta
      // there would follow the damaged state.
      current_ = gens.back().number;
      chain_ok_ = s.top == current_;
      fell_back_to_ = chain_ok_ ? 0 : s.top;
      base_ = s.base;
      prev_base_ = s.prev_base;
      base_bytes_ = s.base_bytes;
      delta_bytes_ = s.delta_bytes;
      deltas_ = s.deltas;
      mark_ = s.catalog.mark();
      prune_cache(gens);
      return std::move(s.catalog);
    } catch (const Error& e) {
      if (!is_gone(e)) throw;
      log::warn("Catalog generation {} is damaged ({}); trying the one before it", gens[i].name, e.what());
    }
  }
  if (!gens.empty())
    throw Error(ErrorKind::kCorruption, "every catalog generation in " + store_.describe() + " is damaged");
  current_ = 0;
  chain_ok_ = false;  // the first save writes a base
  fell_back_to_ = 0;
  base_ = prev_base_ = base_bytes_ = delta_bytes_ = deltas_ = 0;
  mark_ = catalog::Mark{};
  return {};
}

uint64_t Generations::write_base(const std::string& name, const catalog::Catalog& catalog, int kind, uint64_t number,
                                 uint64_t prev_base) {
  uint64_t sealed_size = 0;
  std::string head = header(static_cast<Kind>(kind), number, number, prev_base);
  // Encoded, compressed and sealed as a stream into the store: a local store never holds
  // the sealed catalog whole (S3 collects it for its one conditional PUT).
  auto produce = [&](const storage::Storage::Sink& sink) {
    seal_into(
        keys_,
        [&](const storage::Storage::Sink& piece) {
          piece(head);
          catalog::encode_to(catalog, piece);
        },
        sink, sealed_size);
  };
  if (!store_.put_if_absent_stream(name, produce)) return 0;
  return sealed_size;
}

void Generations::upgrade_config() {
  if (config_version_ >= kRepositoryVersion) return;
  auto cfg = nlohmann::json::parse(store_.get(kConfigName));
  cfg["version"] = kRepositoryVersion;
  store_.put(kConfigName, cfg.dump(2) + "\n");
  config_version_ = kRepositoryVersion;
  log::info(
      "The DB of {} was upgraded to format 3: each backup now saves only what it changed; Seshat 0.8.0 and older "
      "can no longer open this store",
      store_.describe());
}

uint64_t Generations::commit(catalog::Catalog& catalog, bool whole, bool may_retry) {
  // A commit on a state loaded past damaged generations leaves them (and any after them)
  // out of the DB: said loudly, and written whole as a state that continues nothing, so that
  // no other writer takes it for a continuation of what it saw.
  if (fell_back_to_)
    log::warn(
        "Saving the DB after generation {}: generations {} to {} (damaged, or after a damaged one) are no longer "
        "part of it; the containers they refer to stay in the store (DB REBUILD recovers their files)",
        fell_back_to_, fell_back_to_ + 1, current_);
  const bool replaces = whole || fell_back_to_ != 0;
  upgrade_config();
  for (int attempt = 1;; ++attempt) {
    if (current_ >= UINT64_MAX - 1) throw Error(ErrorKind::kCorruption, "the catalog generation counter is exhausted");
    const uint64_t next = current_ + 1;
    const std::string name = generation_name(next);
    const bool as_delta = !whole && chain_ok_ && catalog.extends(mark_);
    std::string delta;
    if (as_delta) delta = catalog::encode_delta(catalog, mark_);
    // A delta chain that grew past a quarter of its base, or too long, ends here with a new
    // base: each byte of delta is rewritten at most four times, never by every commit.
    const bool consolidate = as_delta && (deltas_ + 1 > kMaxDeltas || (delta_bytes_ + delta.size()) * 4 > base_bytes_);
    uint64_t written = 0;
    fault::point("catalog.before_put");
    if (as_delta && !consolidate) {
      std::string head = header(Kind::kDelta, next, base_, 0);
      auto produce = [&](const storage::Storage::Sink& sink) {
        seal_into(
            keys_,
            [&](const storage::Storage::Sink& piece) {
              piece(head);
              piece(delta);
            },
            sink, written);
      };
      if (!store_.put_if_absent_stream(name, produce)) written = 0;
    } else {
      Kind kind = replaces ? Kind::kReplaced : Kind::kBase;
      written = write_base(name, catalog, static_cast<int>(kind), next, base_);
    }
    if (written == 0) {
      // Another writer committed generation `next` first.
      if (!may_retry || whole || !as_delta || attempt >= kCommitAttempts)
        throw Error(ErrorKind::kLocked, "another process saved the catalog at the same time (generation " +
                                            std::to_string(next) + "); run the command again");
      catch_up(catalog, delta);
      // A short random pause, so that two writers do not collide on every step.
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter_ms(10 * attempt)));
      continue;
    }
    fault::point("catalog.after_put");
    current_ = next;
    if (as_delta && !consolidate) {
      delta_bytes_ += written;
      ++deltas_;
    } else {
      prev_base_ = base_;
      base_ = next;
      base_bytes_ = written;
      delta_bytes_ = deltas_ = 0;
    }
    chain_ok_ = true;
    fell_back_to_ = 0;
    mark_ = catalog.mark();
    after_commit(next);
    return written;
  }
}

void Generations::catch_up(catalog::Catalog& catalog, const std::string& delta) {
  try {
    catch_up_to_newest(catalog, delta);
  } catch (...) {
    chain_ok_ = false;  // what is in memory is no state of the store: the next save is whole
    throw;
  }
}

void Generations::catch_up_to_newest(catalog::Catalog& catalog, const std::string& delta) {
  // What this writer added comes off, what the others committed goes on, then this writer's
  // delta again after it: the same state every reader will compute from the store.
  catalog.rollback(mark_);
  auto gens = list();
  size_t from = 0;
  while (from < gens.size() && gens[from].number <= current_) ++from;
  if (from == gens.size())
    throw Error(ErrorKind::kCorruption, "the catalog generation after " + std::to_string(current_) +
                                            " was taken but the store does not list it");
  for (size_t i = from; i < gens.size(); ++i) {
    Object o = read_object(gens[i]);
    if (o.number != current_ + 1)
      throw Error(ErrorKind::kCorruption, "catalog generation " + std::to_string(current_ + 1) + " is missing");
    if (o.kind == Kind::kReplaced)
      throw Error(ErrorKind::kLocked,
                  "the DB was replaced by another process (DB RESET, REBUILD or LOAD) while this ran; nothing was "
                  "saved, the containers written stay in the store and the next backup adopts them");
    if (o.kind == Kind::kBase && o.prev_base != base_)
      throw Error(ErrorKind::kLocked, "the DB was rewritten by another process (generation " +
                                          std::to_string(o.number) +
                                          " does not continue the one this ran on); nothing was saved, run it again");
    if (o.kind == Kind::kBase) {
      // A consolidation: the same state as ours plus theirs, written whole.
      catalog = catalog::decode(o.plain);
      prev_base_ = o.prev_base;
      base_ = o.number;
      base_bytes_ = o.size;
      delta_bytes_ = deltas_ = 0;
    } else {
      if (o.base != base_)
        throw Error(ErrorKind::kCorruption,
                    "catalog generation " + gens[i].name + " is not a delta of base " + std::to_string(base_));
      catalog::apply_delta(catalog, o.plain, true);
      delta_bytes_ += o.size;
      ++deltas_;
    }
    current_ = o.number;
  }
  mark_ = catalog.mark();
  catalog::apply_delta(catalog, delta, false);
  log::info("Another backup saved the DB at the same time: this one's changes were placed after it (generation {})",
            current_ + 1);
}

void Generations::after_commit(uint64_t committed) {
  // Read back: the commit counts only if readers will take it, as the newest generation.
  // (Another writer may have committed after it already.)
  auto gens = list();
  if (std::none_of(gens.begin(), gens.end(), [&](const GenerationInfo& g) { return g.number == committed; }))
    throw Error(ErrorKind::kCorruption, "the catalog was written as generation " + std::to_string(committed) +
                                            " but the store does not list it; run the command again");
  // Kept: the chain of the newest state and the chain before it (a damaged base falls back
  // to the state before it), every generation of them readable. With no chain before it
  // (a store of format 2 upgraded, a first base) the newest kGenerationsKept names stay
  // (format-2 generations are whole catalogs, each readable alone).
  uint64_t keep_from = prev_base_;
  if (!keep_from)
    keep_from = std::min<uint64_t>(base_, committed > kGenerationsKept ? committed - kGenerationsKept + 1 : 1);
  std::vector<std::string> old;
  for (const auto& g : gens)
    if (g.number < keep_from) old.push_back(g.name);
  if (!old.empty()) {
    try {
      store_.remove_many(old);
    } catch (const Error& e) {
      // The new generation is safe; an old one left behind only costs space.
      log::warn("Could not remove old catalog generations: {}", e.what());
    }
  }
}

uint64_t Generations::save(catalog::Catalog& catalog, bool may_retry) { return commit(catalog, false, may_retry); }

uint64_t Generations::save_whole(const catalog::Catalog& catalog) {
  // Never changed: a whole catalog is not retried.
  return commit(const_cast<catalog::Catalog&>(catalog), true, false);
}

bool Generations::changed() {
  auto gens = list();
  return (gens.empty() ? 0 : gens.back().number) != current_;
}

void Generations::skip_to_newest() {
  auto gens = list();
  if (!gens.empty() && gens.back().number != current_) {
    current_ = std::max(current_, gens.back().number);
    chain_ok_ = false;
  }
}

uint64_t Generations::stored_bytes() const { return base_bytes_ + delta_bytes_; }

}  // namespace seshat::repo
