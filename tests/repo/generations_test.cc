// The catalog generations: save and load, damage, names outside the format, conflicts.
#include <gtest/gtest.h>

#include "../catalog/catalog_fixture.h"
#include "repo_fixture.h"
#include "seshat/catalog/codec.h"

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
  EXPECT_EQ(catalog::encode(c), catalog::encode(s.c));
  EXPECT_EQ(again->generations().current(), 1u);
}

TEST(Generations, OnlyTheNewestAreKept) {
  TestRepo t;
  catalog::Catalog c;
  for (int i = 0; i < 8; ++i) t.repo->generations().save_whole(c);
  auto gens = t.repo->generations().list();
  ASSERT_EQ(gens.size(), static_cast<size_t>(kGenerationsKept));
  EXPECT_EQ(gens.front().number, 4u);
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
  EXPECT_EQ(catalog::encode(again->generations().load()), catalog::encode(s.c));
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
  EXPECT_EQ(catalog::encode(c->generations().load()), catalog::encode(s.c));
  EXPECT_FALSE(c->generations().changed());
}

}  // namespace
}  // namespace seshat::repo
