#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.h"
#include "seshat/storage/fault_storage.h"
#include "seshat/storage/local_storage.h"
#include "seshat/storage/storage.h"
#include "seshat/storage/wrappers.h"

namespace seshat::storage {
namespace {

using testing_support::TempDir;

class DryRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner = std::make_shared<LocalStorage>(dir / "store");
    inner->put("existing", "inner data");
    inner->put("dir/obj", "0123456789");
    dry = std::make_unique<DryRunStorage>(inner);
  }
  TempDir dir;
  std::shared_ptr<LocalStorage> inner;
  std::unique_ptr<DryRunStorage> dry;
};

TEST_F(DryRunTest, ReadsPassThrough) {
  EXPECT_EQ(dry->get("existing"), "inner data");
  EXPECT_EQ(dry->get_range("dir/obj", 2, 3), "234");
  EXPECT_EQ(dry->head("existing"), 10u);
  EXPECT_EQ(dry->head("missing"), std::nullopt);
  auto l = dry->list("");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].name, "dir/obj");
  EXPECT_EQ(l[1].name, "existing");
  EXPECT_EQ(dry->describe(), inner->describe());
  EXPECT_EQ(dry->capabilities().conditional_create, inner->capabilities().conditional_create);
  EXPECT_THROW_KIND(kNotFound, dry->get("missing"));
}

TEST_F(DryRunTest, PutIsInvisibleInTheInnerStore) {
  dry->put("new", "x");
  dry->put("existing", "overwritten?");
  EXPECT_EQ(inner->head("new"), std::nullopt);
  EXPECT_EQ(inner->get("existing"), "inner data");
  EXPECT_EQ(inner->list("").size(), 2u);
}

TEST_F(DryRunTest, PutIfAbsentReportsWhatWouldHappenAndWritesNothing) {
  EXPECT_TRUE(dry->put_if_absent("new", "x"));
  EXPECT_EQ(inner->head("new"), std::nullopt);
  EXPECT_FALSE(dry->put_if_absent("existing", "y"));
  EXPECT_EQ(inner->get("existing"), "inner data");
}

TEST_F(DryRunTest, RemoveKeepsTheObject) {
  dry->remove("existing");
  dry->remove_many({"existing", "dir/obj"});
  EXPECT_EQ(inner->get("existing"), "inner data");
  EXPECT_EQ(inner->get("dir/obj"), "0123456789");
}

TEST_F(DryRunTest, WriterCountsButStoresNothing) {
  auto w = dry->create("containers/c", ObjectClass::kMetadata);
  w->write("abc");
  w->write(std::string(1000, 'z'));
  EXPECT_EQ(w->size(), 1003u);
  w->commit();
  EXPECT_EQ(inner->head("containers/c"), std::nullopt);
  EXPECT_EQ(inner->list("").size(), 2u);
  auto w2 = dry->create("containers/d", ObjectClass::kMetadata);
  w2->write("x");
  w2->abort();
  EXPECT_EQ(inner->list("").size(), 2u);
}

TEST(StorageWrapper, ForwardsEverything) {
  TempDir dir;
  auto inner = std::make_shared<LocalStorage>(dir.path());
  StorageWrapper w(inner);
  w.put("a", "1");
  EXPECT_TRUE(w.put_if_absent("b", "22"));
  EXPECT_FALSE(w.put_if_absent("b", "x"));
  EXPECT_EQ(inner->get("a"), "1");
  EXPECT_EQ(w.get("b"), "22");
  EXPECT_EQ(w.get_range("b", 1, 1), "2");
  EXPECT_EQ(w.head("b"), 2u);
  EXPECT_EQ(w.list("").size(), 2u);
  auto ow = w.create("c", ObjectClass::kMetadata);
  ow->write("333");
  ow->commit();
  EXPECT_EQ(inner->get("c"), "333");
  w.remove("a");
  EXPECT_EQ(inner->head("a"), std::nullopt);
  w.remove_many({"b", "c"});
  EXPECT_TRUE(inner->list("").empty());
  EXPECT_EQ(w.describe(), "LOCAL " + dir.path());
}

// SET LIMIT: what passes takes at least bytes / rate, from every thread together (only the
// lower bound is asserted: a sleep is never shorter, a loaded machine may make it longer).
TEST(RateLimiter, AllThreadsTogetherStayUnderTheRate) {
  RateLimiter r(1 << 20);  // 1 MiB/s
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 4; ++k) r.take(16 << 10);  // 4 x 4 x 16 KiB = 256 KiB
    });
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(s, 0.25 * 0.95);
  RateLimiter off(0);
  auto t1 = std::chrono::steady_clock::now();
  off.take(1ull << 40);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), 1.0);
}

TEST(ThrottledStorage, PassesEveryByteThrough) {
  TempDir dir;
  auto inner = std::make_shared<LocalStorage>(dir / "store");
  ThrottledStorage t(inner, 64 << 20, 64 << 20);
  std::string data(300 << 10, 'x');
  t.put("seshat/a", data);
  EXPECT_EQ(t.get("seshat/a"), data);
  EXPECT_EQ(t.get_range("seshat/a", 10, 100), data.substr(10, 100));
  auto w = t.create("SEF_b", ObjectClass::kData);
  w->write(data);
  w->write("tail");
  w->commit();
  EXPECT_EQ(inner->get("SEF_b"), data + "tail");
  EXPECT_TRUE(t.put_if_absent_stream("seshat/c", [&](const Storage::Sink& sink) {
    sink(data);
    sink("end");
  }));
  EXPECT_EQ(inner->get("seshat/c"), data + "end");
}

}  // namespace
}  // namespace seshat::storage
