// The repository lock, on both protocols: the conditional create of a local store and the
// listing protocol of stores without one (a local store that says it has no conditional
// create stands in for such an S3 server).
#include "seshat/repo/lock.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "../test_support.h"
#include "seshat/storage/local_storage.h"

namespace seshat::repo {
namespace {

using testing_support::TempDir;

class NoConditionalCreate : public storage::StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  storage::Capabilities capabilities() const override { return {}; }
};

// A lease of a second (the test hook of doc/testing.md), restored after the test.
struct ShortLease {
  ShortLease() { ::setenv("SESHAT_LOCK_LEASE_SECONDS", "1", 1); }
  ~ShortLease() { ::unsetenv("SESHAT_LOCK_LEASE_SECONDS"); }
};

class LockTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::shared_ptr<storage::Storage> s = std::make_shared<storage::LocalStorage>(dir / "store");
    store = GetParam() ? s : std::make_shared<NoConditionalCreate>(s);
  }
  TempDir dir;
  std::shared_ptr<storage::Storage> store;
};

TEST_P(LockTest, SecondHolderIsRefusedNamingTheFirst) {
  auto a = Lock::acquire(store, "host-a", false);
  try {
    Lock::acquire(store, "host-b", false);
    FAIL() << "a second process took a held lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLocked);
    EXPECT_NE(std::string(e.what()).find("host host-a pid " + std::to_string(::getpid())), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(a->still_held());
  a->release();
  auto b = Lock::acquire(store, "host-b", false);  // free again
  EXPECT_TRUE(b->still_held());
}

TEST_P(LockTest, ReleaseRemovesOnlyOurRecord) {
  auto a = Lock::acquire(store, "h", false);
  a->release();
  EXPECT_TRUE(store->list(kLockPrefix).empty());
}

TEST_P(LockTest, AWaiterGetsTheLockWhenItIsReleased) {
  auto a = Lock::acquire(store, "h", false);
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    a->release();
  });
  auto b = Lock::acquire(store, "other", true);
  releaser.join();
  EXPECT_TRUE(b->still_held());
}

TEST_P(LockTest, AnExpiredLeaseIsTakenOver) {
  ShortLease lease;
  LockRecord dead;
  dead.id = "0123456789abcdef";
  dead.host = "elsewhere";
  dead.pid = 1;
  dead.user = "u";
  dead.started_ns = 1;
  dead.lease_until_ns = 2;  // long expired
  store->put(GetParam() ? kLockName : std::string(kLockPrefix) + dead.id, dead.to_json());
  auto b = Lock::acquire(store, "h", false);
  EXPECT_TRUE(b->still_held());
}

TEST_P(LockTest, ADamagedRecordIsTakenOver) {
  store->put(GetParam() ? kLockName : std::string(kLockPrefix) + "feedfeedfeedfeed", "{not json");
  auto b = Lock::acquire(store, "h", false);
  EXPECT_TRUE(b->still_held());
}

TEST_P(LockTest, TheLeaseIsRenewedWhileHeld) {
  ShortLease lease;
  auto a = Lock::acquire(store, "h", false);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // 2.5 leases
  EXPECT_THROW_KIND(kLocked, Lock::acquire(store, "other-host", false));
  EXPECT_TRUE(a->still_held());
}

TEST_P(LockTest, ARemovedLockIsNoticed) {
  auto a = Lock::acquire(store, "h", false);
  for (const auto& o : store->list(kLockPrefix)) store->remove(o.name);
  EXPECT_FALSE(a->still_held());
}

TEST_P(LockTest, ForceUnlockRefusesALiveHolderOfThisHost) {
  auto a = Lock::acquire(store, "this-host", false);
  EXPECT_THROW_KIND(kLocked, Lock::force_unlock(*store, "this-host"));
  auto removed = Lock::force_unlock(*store, "another-host");
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->host, "this-host");
  EXPECT_FALSE(a->still_held());
  EXPECT_FALSE(Lock::force_unlock(*store, "another-host").has_value());  // nothing left
}

TEST(LockRecord, RoundTripAndRejection) {
  LockRecord r;
  r.id = "00ff";
  r.host = "bastet";
  r.pid = 4242;
  r.user = "adrian";
  r.started_ns = 1764230649363000000;
  r.lease_until_ns = 1764230949363000000;
  LockRecord back = LockRecord::from_json(r.to_json());
  EXPECT_EQ(back.to_json(), r.to_json());
  EXPECT_THROW_KIND(kCorruption, LockRecord::from_json("{}"));
  EXPECT_THROW_KIND(kCorruption, LockRecord::from_json("[1,2]"));
  EXPECT_THROW_KIND(kCorruption, LockRecord::from_json(R"({"version":2})"));
}

INSTANTIATE_TEST_SUITE_P(Protocols, LockTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "ConditionalCreate" : "Listing";
                         });

}  // namespace
}  // namespace seshat::repo
