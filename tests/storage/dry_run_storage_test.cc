#include <gtest/gtest.h>

#include <memory>
#include <string>

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

}  // namespace
}  // namespace seshat::storage
