// The backup over a fake BlobWriter: what the walk and the packers record, with no store.
#include "seshat/backup/backup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <random>

#include "../test_support.h"

namespace seshat::backup {
namespace {

using testing_support::TempDir;

// What the fake writers of a test stored, kept by the test.
struct FakeStore {
  struct Origin {
    std::string path;
    uint32_t part, parts;
  };
  std::mutex mu;
  std::vector<Origin> origins;  // of the last backup
  std::map<std::pair<uint32_t, uint64_t>, std::string> blobs;
  int writers = 0;
};

// Keeps every blob in memory; a container is "full" after max bytes.
class FakeWriter : public repo::BlobWriter {
 public:
  FakeWriter(FakeStore& store, Hooks hooks, uint64_t max) : store_(store), hooks_(std::move(hooks)), max_(max) {
    ++store_.writers;
    store_.origins.clear();
  }
  size_t buffer_size(size_t max_blob) const override { return max_blob; }
  void seal(std::string_view plain, repo::SealedBuffer& out) override {
    out.bytes.assign(plain);
    out.raw_size = plain.size();
  }
  repo::Placement place(const repo::SealedBuffer& b, const repo::BlobOrigin& o) override {
    if (open_ && size_ + b.bytes.size() > max_) close(true);
    if (!open_) {
      id_ = hooks_.opened("containers/fake_" + std::to_string(containers_++));
      open_ = true;
    }
    repo::Placement p;
    p.ref.container = id_;
    p.ref.offset = size_;
    p.ref.length = static_cast<uint32_t>(b.bytes.size());
    p.ref.raw_size = static_cast<uint32_t>(b.raw_size);
    p.turn = turns_++;
    size_ += b.bytes.size();
    ++count_;
    store_.origins.push_back({std::string(o.path), o.part, o.parts});
    return p;
  }
  void write(const repo::Placement& p, std::string_view bytes) override {
    std::lock_guard<std::mutex> lk(store_.mu);
    store_.blobs[{p.ref.container, p.ref.offset}] = std::string(bytes);
  }
  void abandon(const repo::Placement&) override {}
  void finish() override {
    if (open_) close(false);
  }

 private:
  void close(bool full) {
    if (hooks_.may_commit && !hooks_.may_commit()) throw Error(ErrorKind::kLocked, "lost");
    hooks_.committed(id_, size_, count_, full);
    open_ = false;
    size_ = 0;
    count_ = 0;
  }
  FakeStore& store_;
  Hooks hooks_;
  uint64_t max_;
  int containers_ = 0;
  bool open_ = false;
  uint32_t id_ = 0;
  uint64_t size_ = 0, turns_ = 0;
  size_t count_ = 0;
};

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src = dir / "src";
    testing_support::mkdirs(src + "/sub/deep");
    put("a.txt", "alpha\n");
    put("sub/b.txt", "bravo bravo\n");
    put("sub/deep/c.bin", random_bytes(50000, 1));
    put("empty", "");
    ASSERT_EQ(::symlink("a.txt", (src + "/link").c_str()), 0);
  }
  void put(const std::string& rel, const std::string& data) { testing_support::spit(src + "/" + rel, data, 0644); }
  static std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }

  Result backup(Options o = {}) {
    o.host = "h";
    o.folder = src;
    o.threads = 2;
    if (o.max_container == 8ull << 30) o.max_container = max;
    Services s;
    s.writer = [&](const repo::ContainerOrigin& origin, repo::BlobWriter::Hooks hooks) {
      EXPECT_EQ(origin.folder, src);
      return std::make_unique<FakeWriter>(fake, std::move(hooks), max);
    };
    s.save = [&](bool) -> uint64_t {
      ++saves;
      return 1000;
    };
    return run(cat, o, s);
  }

  // The content the catalog records for a path now.
  std::optional<std::string> stored(const std::string& rel) {
    cat.build_child_index();
    auto e = cat.lookup(0, src + "/" + rel);
    if (!e) return std::nullopt;
    const catalog::Version& v = cat.versions[cat.entries[*e].latest];
    if (v.type != catalog::Type::kFile) return std::nullopt;
    const catalog::Content& c = cat.contents[v.content];
    std::string out;
    for (uint32_t b = c.first_blob; b < c.first_blob + c.blob_count; ++b)
      out += fake.blobs.at({cat.blobs[b].container, cat.blobs[b].offset});
    return out;
  }

  TempDir dir;
  std::string src;
  catalog::Catalog cat;
  FakeStore fake;
  int saves = 0;
  uint64_t max = 8ull << 30;
};

TEST_F(BackupTest, AFirstBackupRecordsEveryPath) {
  Result r = backup();
  EXPECT_EQ(r.found, 4u);  // a.txt, b.txt, c.bin, empty (the symlink is recorded by the walk)
  EXPECT_EQ(r.files_stored, 4u);
  EXPECT_EQ(r.dirs_scanned, 3u);
  EXPECT_EQ(r.not_backed_up, 0u);
  EXPECT_EQ(stored("a.txt"), "alpha\n");
  EXPECT_EQ(stored("sub/deep/c.bin"), random_bytes(50000, 1));
  EXPECT_EQ(stored("empty"), "");
  auto link = cat.lookup(0, src + "/link");
  ASSERT_TRUE(link.has_value());
  const catalog::Version& lv = cat.versions[cat.entries[*link].latest];
  EXPECT_EQ(lv.type, catalog::Type::kSymlink);
  EXPECT_EQ(cat.symlink_target(lv), "a.txt");
  EXPECT_TRUE(cat.backups.back().complete);
  EXPECT_EQ(saves, 1);  // the final save
  EXPECT_EQ(r.found_paths.size(), 4u);
}

TEST_F(BackupTest, AnUnchangedSecondBackupStoresNothing) {
  backup();
  Result r = backup();
  EXPECT_EQ(r.found, 0u);
  EXPECT_EQ(r.files_stored, 0u);
  EXPECT_EQ(r.containers, 0);
  EXPECT_EQ(cat.backups.size(), 2u);
}

TEST_F(BackupTest, AChangedFileIsStoredAgainAndADeletedOneGetsATombstone) {
  backup();
  put("a.txt", "alpha, changed\n");
  ASSERT_EQ(::unlink((src + "/sub/b.txt").c_str()), 0);
  Result r = backup();
  EXPECT_EQ(r.files_stored, 1u);
  EXPECT_EQ(r.deleted, 1u);
  EXPECT_EQ(stored("a.txt"), "alpha, changed\n");
  auto b = cat.lookup(0, src + "/sub/b.txt");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(cat.versions[cat.entries[*b].latest].type, catalog::Type::kDeleted);
  // The first backup still has the old version.
  uint32_t v0 = cat.version_at(*b, 0);
  ASSERT_NE(v0, catalog::kNone);
  EXPECT_EQ(cat.versions[v0].type, catalog::Type::kFile);
}

TEST_F(BackupTest, IdenticalContentIsStoredOnce) {
  put("copy.txt", "bravo bravo\n");
  Result r = backup();
  EXPECT_EQ(r.files_stored, 5u);
  EXPECT_EQ(r.deduplicated, 1u);
  EXPECT_EQ(fake.origins.size(), 3u);  // alpha, bravo, c.bin (the empty file has no blob)
}

TEST_F(BackupTest, ARenamedBigFileIsFoundByContent) {
  Options o;
  o.part_size = 64 << 10;
  put("big.bin", random_bytes(200 << 10, 9));
  backup(o);
  ASSERT_EQ(::rename((src + "/big.bin").c_str(), (src + "/moved.bin").c_str()), 0);
  Result r = backup(o);
  EXPECT_EQ(r.found, 1u);
  EXPECT_EQ(r.deduplicated, 1u);
  EXPECT_EQ(r.containers, 0);
}

TEST_F(BackupTest, ABigFileIsStoredInParts) {
  Options o;
  o.part_size = 64 << 10;
  put("big.bin", random_bytes(200 << 10, 9));
  backup(o);
  EXPECT_EQ(stored("big.bin"), random_bytes(200 << 10, 9));
  int parts = 0;
  for (const auto& org : fake.origins)
    if (org.path == src + "/big.bin") {
      EXPECT_EQ(org.parts, 4u);
      EXPECT_EQ(org.part, static_cast<uint32_t>(parts++));
    }
  EXPECT_EQ(parts, 4);
}

TEST_F(BackupTest, ExcludeAndIncludePatterns) {
  Options o;
  o.excludes = {"/sub$"};
  o.includes = {};
  Result r = backup(o);
  EXPECT_EQ(r.found, 2u);  // a.txt and empty
  EXPECT_FALSE(stored("sub/b.txt").has_value());
  Options bad;
  bad.excludes = {"("};
  EXPECT_THROW_KIND(kInvalidInput, backup(bad));
}

TEST_F(BackupTest, HiddenNamesCanBeLeftOut) {
  put(".secret", "x");
  Options o;
  o.hidden = false;
  Result r = backup(o);
  EXPECT_EQ(r.found, 4u);
  EXPECT_FALSE(cat.lookup(0, src + "/.secret").has_value() &&
               cat.versions[cat.entries[*cat.lookup(0, src + "/.secret")].latest].type == catalog::Type::kFile);
}

TEST_F(BackupTest, FullContainersAreCheckpointed) {
  max = 20000;
  for (int i = 0; i < 10; ++i) put("f" + std::to_string(i), random_bytes(15000, 100 + i));
  Result r = backup();
  EXPECT_GE(r.containers, 5);
  EXPECT_GE(saves, 2);  // at least one checkpoint before the final save
  for (const auto& c : cat.containers) EXPECT_GT(c.size, 0u) << c.name;  // each committed size recorded
}

TEST_F(BackupTest, AMissingFolderIsAnError) {
  src = dir / "nowhere";
  EXPECT_THROW_KIND(kNotFound, backup());
}

TEST_F(BackupTest, ADryRunWritesNothing) {
  Options o;
  o.dry_run = true;
  Result r = backup(o);
  EXPECT_EQ(r.found, 4u);
  EXPECT_EQ(fake.writers, 0);
  EXPECT_EQ(saves, 0);
}

}  // namespace
}  // namespace seshat::backup
