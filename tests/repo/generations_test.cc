// The catalog generations: save and load, damage, names outside the format, conflicts.
#include <gtest/gtest.h>

#include "../catalog/catalog_fixture.h"
#include "repo_fixture.h"
#include "seshat/catalog/codec.h"
#include "seshat/util/bytes.h"
#include "seshat/util/zstd.h"

namespace seshat::repo {
namespace {

using test::TestRepo;

TEST(Generations, SaveThenLoadGivesTheSameCatalog) {
  TestRepo t;
  catalog::test::Sample s;
  EXPECT_EQ(t.repo->generations().load().versions.size(), 0u);  // a new repository: empty
  EXPECT_EQ(t.repo->generations().current(), 0u);
  t.repo->generations().save_whole(s.c);
  EXPECT_EQ(t.repo->generations().current(), 1u);
  auto again = Repository::open(t.store, "passphrase");
  catalog::Catalog c = again->generations().load();
  EXPECT_TRUE(catalog::encode(c) == catalog::encode(s.c));
  EXPECT_EQ(again->generations().current(), 1u);
}

TEST(Generations, TheNewestChainAndTheOneBeforeAreKept) {
  TestRepo t;
  catalog::Catalog c;
  for (int i = 0; i < 8; ++i) t.repo->generations().save_whole(c);
  auto gens = t.repo->generations().list();
  ASSERT_EQ(gens.size(), 2u);  // every save a whole catalog: the newest and the one before
  EXPECT_EQ(gens.front().number, 7u);
  EXPECT_EQ(gens.back().number, 8u);
}

TEST(Generations, DamagedNewestFallsBackToTheOneBefore) {
  TestRepo t;
  catalog::test::Sample s;
  t.repo->generations().save_whole(catalog::Catalog{});
  t.repo->generations().save_whole(s.c);
  auto gens = t.repo->generations().list();
  std::string data = testing_support::slurp(t.file(gens.back().name));
  data[data.size() / 2] ^= 1;
  testing_support::spit(t.file(gens.back().name), data);
  auto again = Repository::open(t.store, "passphrase");
  EXPECT_EQ(again->generations().load().versions.size(), 0u);  // generation 1, empty
  // The next save goes after the damaged name.
  EXPECT_EQ(again->generations().current(), 2u);
  again->generations().save_whole(s.c);
  EXPECT_EQ(again->generations().current(), 3u);
}

TEST(Generations, EveryGenerationDamagedIsAnError) {
  TestRepo t;
  t.repo->generations().save_whole(catalog::Catalog{});
  testing_support::spit(t.file(t.repo->generations().list().back().name), "garbage");
  EXPECT_THROW_KIND(kCorruption, Repository::open(t.store, "passphrase")->generations().load());
}

// Regression (hardening issue 3): a stray object at the largest or a too-large number must
// neither wrap the counter nor stop every command.
TEST(Generations, NamesOutsideTheFormatAreIgnored) {
  TestRepo t;
  catalog::test::Sample s;
  t.repo->generations().save_whole(s.c);
  for (const char* stray : {"seshat/db/18446744073709551615", "seshat/db/99999999999999999999", "seshat/db/junk",
                            "seshat/db/00000000000000000000", "seshat/db/0000000000000000002"})
    t.store->put(stray, "stray");
  auto again = Repository::open(t.store, "passphrase");
  EXPECT_TRUE(catalog::encode(again->generations().load()) == catalog::encode(s.c));
  EXPECT_EQ(again->generations().list().size(), 1u);
  again->generations().save_whole(s.c);
  EXPECT_EQ(again->generations().current(), 2u);
  EXPECT_TRUE(t.store->head("seshat/db/00000000000000000002").has_value());
}

TEST(Generations, ACounterAtItsEndIsRefusedNotWrapped) {
  TestRepo t;
  t.store->put("seshat/db/18446744073709551614", "x");
  auto again = Repository::open(t.store, "passphrase");
  again->generations().skip_to_newest();
  EXPECT_THROW_KIND(kCorruption, again->generations().save_whole(catalog::Catalog{}));
}

TEST(Generations, AConcurrentWriterIsDetectedNotOverwritten) {
  TestRepo t;
  auto a = Repository::open(t.store, "passphrase");
  auto b = Repository::open(t.store, "passphrase");
  a->generations().load();
  b->generations().load();
  catalog::test::Sample s;
  a->generations().save_whole(s.c);
  EXPECT_TRUE(b->generations().changed());
  EXPECT_THROW_KIND(kLocked, b->generations().save_whole(catalog::Catalog{}));
  auto c = Repository::open(t.store, "passphrase");
  EXPECT_TRUE(catalog::encode(c->generations().load()) == catalog::encode(s.c));
  EXPECT_FALSE(c->generations().changed());
}

// One backup of folder `path` of host `host` with `files` new files (names by seed).
void add_backup(catalog::Catalog& c, const std::string& host, const std::string& path, int seed, int files = 3) {
  uint32_t f = c.find_or_add_folder(c.find_or_add_host(host), path);
  uint32_t b = c.add_backup(f, 1700000000000000000LL + seed);
  uint32_t k = c.add_container("containers/SEF_" + host + "_" + std::to_string(seed), 1000);
  c.add_version(c.folders[f].root, catalog::test::dir_version(b, seed));
  for (int i = 0; i < files; ++i) {
    uint32_t content = c.add_content(catalog::test::hash_of(static_cast<uint8_t>(seed), static_cast<uint8_t>(i)), 10,
                                     {catalog::test::blob(k, 16 + 40 * i, 40)});
    uint32_t e = c.add_entry(c.folders[f].root, "f" + std::to_string(seed) + "_" + std::to_string(i));
    c.add_version(e, catalog::test::file_version(b, content, 10));
  }
  c.backups[b].complete = true;
}

// The kind byte of a generation as stored (1 base, 2 delta, 3 replaced).
int kind_of(TestRepo& t, const GenerationInfo& g) {
  std::string sealed = testing_support::slurp(t.file(g.name));
  std::string_view z = crypto::open_packed_in_place(t.repo->keys(), sealed);
  std::string plain;
  auto n = zstd::frame_size(z, 1 << 30);
  EXPECT_TRUE(n);
  EXPECT_TRUE(zstd::decompress(z, *n, plain));
  plain.resize(*n);
  EXPECT_EQ(plain.substr(0, 4), "SGEN");
  return plain.size() > 8 ? plain[8] : -1;
}

TEST(Generations, ABackupOnABigCatalogCommitsAFewBytes) {
  TestRepo t;
  catalog::Catalog c = t.repo->generations().load();
  for (int i = 0; i < 20; ++i) add_backup(c, "h", "/big", i, 200);
  uint64_t base = t.repo->generations().save(c, true);
  EXPECT_GT(base, 40000u);
  add_backup(c, "h", "/big", 99, 0);  // unchanged: the backup record and its root
  uint64_t delta = t.repo->generations().save(c, true);
  EXPECT_LT(delta, 300u);
  auto gens = t.repo->generations().list();
  ASSERT_EQ(gens.size(), 2u);
  EXPECT_EQ(kind_of(t, gens[0]), 1);
  EXPECT_EQ(kind_of(t, gens[1]), 2);
  EXPECT_EQ(t.repo->generations().stored_bytes(), base + delta);
  auto again = Repository::open(t.store, "passphrase");
  EXPECT_TRUE(catalog::encode(again->generations().load()) == catalog::encode(c));
  EXPECT_EQ(again->generations().deltas(), 1u);
}

TEST(Generations, DeltasAreConsolidatedIntoABaseAndOldChainsGo) {
  TestRepo t;
  catalog::Catalog c = t.repo->generations().load();
  for (int i = 0; i < 10; ++i) add_backup(c, "h", "/f", i, 100);
  t.repo->generations().save(c, true);
  int bases = 0;
  for (int i = 0; i < 200; ++i) {
    add_backup(c, "h", "/f", 100 + i, 1);
    t.repo->generations().save(c, true);
    EXPECT_LE(t.repo->generations().deltas(), 64u);
    bases += t.repo->generations().deltas() == 0;
    auto gens = t.repo->generations().list();
    // At most two chains (the current and the one before) of at most 65 generations.
    EXPECT_LE(gens.size(), 130u);
  }
  EXPECT_GE(bases, 2);
  auto again = Repository::open(t.store, "passphrase");
  EXPECT_TRUE(catalog::encode(again->generations().load()) == catalog::encode(c));
  // Every state still listed is readable.
  for (const auto& g : again->generations().list()) EXPECT_NO_THROW(again->generations().read(g.number)) << g.name;
}

TEST(Generations, ADamagedDeltaFallsBackToTheStateBeforeIt) {
  TestRepo t;
  catalog::Catalog c = t.repo->generations().load();
  add_backup(c, "h", "/f", 1, 300);
  t.repo->generations().save(c, true);
  add_backup(c, "h", "/f", 2, 1);
  t.repo->generations().save(c, true);
  const std::string at2 = catalog::encode(c);
  add_backup(c, "h", "/f", 3, 1);
  t.repo->generations().save(c, true);
  add_backup(c, "h", "/f", 4, 1);
  t.repo->generations().save(c, true);
  ASSERT_EQ(t.repo->generations().deltas(), 3u);
  auto gens = t.repo->generations().list();
  ASSERT_EQ(gens.size(), 4u);
  std::string data = testing_support::slurp(t.file(gens[2].name));
  data[data.size() / 2] ^= 1;
  testing_support::spit(t.file(gens[2].name), data);
  auto again = Repository::open(t.store, "passphrase");
  catalog::Catalog d = again->generations().load();
  EXPECT_TRUE(catalog::encode(d) == at2);
  EXPECT_EQ(again->generations().current(), 4u);
  // The next commit goes after the newest name, whole, as a state continuing nothing.
  add_backup(d, "h", "/f", 5, 1);
  again->generations().save(d, true);
  EXPECT_EQ(again->generations().current(), 5u);
  EXPECT_EQ(kind_of(t, again->generations().list().back()), 3);
  add_backup(d, "h", "/f", 6, 1);
  again->generations().save(d, true);
  EXPECT_EQ(again->generations().current(), 6u);
  EXPECT_EQ(again->generations().deltas(), 1u) << again->generations().stored_bytes();
  auto third = Repository::open(t.store, "passphrase");
  EXPECT_TRUE(catalog::encode(third->generations().load()) == catalog::encode(d));
  // A state through the damaged delta cannot be read strictly.
  EXPECT_THROW_KIND(kCorruption, third->generations().read(4));
}

TEST(Generations, AMissingBaseFallsBackToTheChainBefore) {
  TestRepo t;
  catalog::Catalog c = t.repo->generations().load();
  add_backup(c, "h", "/f", 1, 5);
  t.repo->generations().save(c, true);
  const std::string at1 = catalog::encode(c);
  add_backup(c, "h", "/f", 2, 50);  // more than a quarter of the base: a new base
  t.repo->generations().save(c, true);
  EXPECT_EQ(t.repo->generations().deltas(), 0u);
  add_backup(c, "h", "/f", 3, 0);
  t.repo->generations().save(c, true);
  EXPECT_EQ(t.repo->generations().deltas(), 1u);
  t.store->remove("seshat/db/00000000000000000002");
  auto again = Repository::open(t.store, "passphrase");
  EXPECT_EQ(catalog::encode(again->generations().load()), at1);
}

// A store on which, before each commit of one writer, another writer commits first.
class CollidingStore : public storage::StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  std::function<void()> before_commit;
  int collisions = 0;
  bool put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) override {
    if (n.starts_with("seshat/db/") && before_commit && collisions > 0) {
      --collisions;
      before_commit();
    }
    return StorageWrapper::put_if_absent_stream(n, p);
  }
};

TEST(Generations, AWriterThatLosesEveryRacePlacesItsChangesAfterTheWinners) {
  TestRepo t;
  {
    catalog::Catalog c = t.repo->generations().load();
    add_backup(c, "a", "/base", 0, 100);
    t.repo->generations().save(c, true);
  }
  auto colliding = std::make_shared<CollidingStore>(t.store);
  auto loser = Repository::open(colliding, "passphrase");
  auto winner = Repository::open(t.store, "passphrase");
  catalog::Catalog lc = loser->generations().load();
  catalog::Catalog wc = winner->generations().load();
  int seed = 100;
  colliding->before_commit = [&] { add_backup(wc, "w", "/w", ++seed, 2), winner->generations().save(wc, true); };
  colliding->collisions = 5;
  add_backup(lc, "l", "/l", 1, 4);
  add_backup(lc, "w", "/other", 2, 1);  // a host the winner adds too
  loser->generations().save(lc, true);
  EXPECT_EQ(colliding->collisions, 0);
  EXPECT_EQ(loser->generations().current(), 7u);  // 1 base, 5 of the winner's, then the loser's
  // Every reader sees both writers' backups, and what the loser holds is what they see.
  auto reader = Repository::open(t.store, "passphrase");
  catalog::Catalog r = reader->generations().load();
  EXPECT_TRUE(catalog::encode(r) == catalog::encode(lc));
  EXPECT_EQ(r.backups.size(), 1u + 5u + 2u);
  EXPECT_EQ(r.hosts.size(), 3u);
  r.build_child_index();
  auto l = r.find_folder(*r.find_host("l"), "/l");
  ASSERT_TRUE(l);
  EXPECT_TRUE(r.lookup(*l, "/l/f1_3").has_value());
  EXPECT_TRUE(r.find_content(catalog::test::hash_of(1, 3)).has_value());
  EXPECT_TRUE(r.find_content(catalog::test::hash_of(105, 1)).has_value());
  // Its next commit is a plain delta after its own.
  add_backup(lc, "l", "/l", 3, 1);
  loser->generations().save(lc, true);
  EXPECT_TRUE(catalog::encode(Repository::open(t.store, "passphrase")->generations().load()) == catalog::encode(lc));
}

TEST(Generations, ACheckpointThatLosesARaceIsRefused) {
  TestRepo t;
  auto colliding = std::make_shared<CollidingStore>(t.store);
  auto loser = Repository::open(colliding, "passphrase");
  auto winner = Repository::open(t.store, "passphrase");
  catalog::Catalog lc = loser->generations().load(), wc = winner->generations().load();
  colliding->before_commit = [&] { add_backup(wc, "w", "/w", 1), winner->generations().save(wc, true); };
  colliding->collisions = 1;
  add_backup(lc, "l", "/l", 2);
  const std::string mine = catalog::encode(lc);
  EXPECT_THROW_KIND(kLocked, loser->generations().save(lc, false));
  EXPECT_EQ(catalog::encode(lc), mine);  // untouched: the packer's ids still hold
}

TEST(Generations, AReplacedCatalogIsNotMergedInto) {
  TestRepo t;
  auto colliding = std::make_shared<CollidingStore>(t.store);
  auto loser = Repository::open(colliding, "passphrase");
  auto other = Repository::open(t.store, "passphrase");
  catalog::Catalog lc = loser->generations().load();
  other->generations().load();
  colliding->before_commit = [&] { other->generations().save_whole(catalog::Catalog{}); };  // DB RESET
  colliding->collisions = 1;
  add_backup(lc, "l", "/l", 2);
  EXPECT_THROW_KIND(kLocked, loser->generations().save(lc, true));
  EXPECT_EQ(Repository::open(t.store, "passphrase")->generations().load().backups.size(), 0u);
}

TEST(Generations, AVersion2StoreOpensAndItsFirstCommitUpgradesIt) {
  TestRepo t;
  catalog::test::Sample s;
  add_backup(s.c, "laptop", "/big", 1, 300);
  // What Seshat 0.8.0 wrote: a whole catalog with no header, and config version 1.
  std::string plain = catalog::encode(s.c), z(zstd::bound(plain.size()), '\0');
  z.resize(zstd::compress(plain, z.data(), z.size(), 3));
  t.store->put("seshat/db/00000000000000000007", crypto::seal_packed(t.repo->keys(), z));
  std::string cfg = t.store->get("seshat/config");
  auto at = cfg.find("\"version\": 2");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, 12, "\"version\": 1");
  t.store->put("seshat/config", cfg);
  auto old = Repository::open(t.store, "passphrase");
  catalog::Catalog c = old->generations().load();
  EXPECT_TRUE(catalog::encode(c) == catalog::encode(s.c));
  add_backup(c, "laptop", "/home/u", 9, 1);
  old->generations().save(c, true);
  EXPECT_NE(t.store->get("seshat/config").find("\"version\": 2"), std::string::npos);
  EXPECT_EQ(old->generations().current(), 8u);
  EXPECT_EQ(old->generations().deltas(), 1u);  // on top of the old generation as its base
  EXPECT_TRUE(catalog::encode(Repository::open(t.store, "passphrase")->generations().load()) == catalog::encode(c));
}

TEST(Generations, ANewerRepositoryVersionIsRefused) {
  TestRepo t;
  std::string cfg = t.store->get("seshat/config");
  cfg.replace(cfg.find("\"version\": 2"), 12, "\"version\": 3");
  t.store->put("seshat/config", cfg);
  EXPECT_THROW_KIND(kCorruption, Repository::open(t.store, "passphrase"));
}

// Regression (review): pruning by count kept deltas whose base it had removed.
TEST(Generations, EveryKeptGenerationIsReadable) {
  TestRepo t;
  catalog::Catalog c = t.repo->generations().load();
  for (int i = 0; i < 60; ++i) {
    // Alternately small and large commits: bases and deltas in every order.
    add_backup(c, "h", "/f", i, i % 3 == 0 ? 60 : 1);
    t.repo->generations().save(c, true);
    for (const auto& g : t.repo->generations().list())
      ASSERT_NO_THROW(t.repo->generations().read(g.number)) << g.name << " after commit " << i;
  }
}

TEST(Generations, CheckAllFindsBrokenChains) {
  TestRepo t;
  catalog::Catalog c = t.repo->generations().load();
  add_backup(c, "h", "/f", 1, 300);
  t.repo->generations().save(c, true);
  for (int i = 2; i <= 4; ++i) {
    add_backup(c, "h", "/f", i, 1);
    t.repo->generations().save(c, true);
  }
  ASSERT_EQ(t.repo->generations().deltas(), 3u);
  EXPECT_TRUE(t.repo->generations().check_all().empty());
  t.store->remove("seshat/db/00000000000000000002");
  auto p = t.repo->generations().check_all();
  ASSERT_EQ(p.size(), 2u);  // generations 3 and 4 lost a link of their chain
  EXPECT_EQ(p[0].first, "seshat/db/00000000000000000003");
  std::string data = testing_support::slurp(t.file("seshat/db/00000000000000000004"));
  data[data.size() / 2] ^= 1;
  testing_support::spit(t.file("seshat/db/00000000000000000004"), data);
  p = t.repo->generations().check_all();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].first, "seshat/db/00000000000000000004");  // damaged
  EXPECT_EQ(p[1].first, "seshat/db/00000000000000000003");
}

TEST(Generations, AnOldWriterAfterTheUpgradeIsNotTakenAsTheState) {
  TestRepo t;
  catalog::Catalog c = t.repo->generations().load();
  add_backup(c, "h", "/f", 1, 100);
  t.repo->generations().save(c, true);
  const std::string mine = catalog::encode(c);
  // What a Seshat 0.8 that loaded the store before the upgrade would write: a whole catalog
  // without a header, at the next number.
  catalog::Catalog old;
  std::string plain = catalog::encode(old), z(zstd::bound(plain.size()), '\0');
  z.resize(zstd::compress(plain, z.data(), z.size(), 3));
  t.store->put("seshat/db/00000000000000000002", crypto::seal_packed(t.repo->keys(), z));
  auto again = Repository::open(t.store, "passphrase");
  EXPECT_TRUE(catalog::encode(again->generations().load()) == mine);  // falls back past it
  catalog::Catalog d = again->generations().load();
  add_backup(d, "h", "/f", 2, 1);
  again->generations().save(d, true);  // after it, whole
  EXPECT_TRUE(catalog::encode(Repository::open(t.store, "passphrase")->generations().load()) == catalog::encode(d));
}

}  // namespace
}  // namespace seshat::repo
