// The restore over a fake BlobReader: what it writes where, with which metadata, and what it
// does with blobs that cannot be read. No store.
#include "seshat/restore/restore.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "../test_support.h"
#include "seshat/repo/content_hash.h"

namespace seshat::restore {
namespace {

using testing_support::TempDir;

// Serves blobs from memory, in reverse order of the requests (any order must do); the blobs
// whose offset is in `damaged` fail.
class FakeReader : public repo::BlobReader {
 public:
  void read(std::vector<repo::BlobRequest> requests, int threads, const Sink& sink) override {
    EXPECT_GE(threads, 1);
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
      const catalog::BlobRef& r = *it->ref;
      if (damaged.count(r.offset))
        sink.failed(it->tag, Error(ErrorKind::kCorruption, "authentication failed"));
      else
        sink.blob(it->tag, blobs.at(r.offset));
    }
  }
  std::map<uint64_t, std::string> blobs;  // by offset
  std::set<uint64_t> damaged;
};

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = cat.find_or_add_folder(cat.find_or_add_host("h"), "/data");
    backup = cat.add_backup(folder, 1);
    cat.add_container("containers/c", 1 << 20);
    root = cat.folders[folder].root;
    cat.add_version(root, catalog::Version::dir(backup, {.mode = 0750, .mtime_ns = 1500000000123456789}));
  }
  // A file whose content is `parts`, one blob each.
  uint32_t file(uint32_t parent, const std::string& name, std::vector<std::string> parts, uint16_t mode = 0640,
                int64_t mtime = 1600000000000000001) {
    std::vector<catalog::BlobRef> refs;
    uint64_t size = 0;
    for (auto& p : parts) {
      catalog::BlobRef r;
      r.offset = next_offset;
      r.length = static_cast<uint32_t>(p.size());
      r.raw_size = static_cast<uint32_t>(p.size());
      reader.blobs[next_offset] = p;
      next_offset += p.size() + 1;
      size += p.size();
      refs.push_back(r);
    }
    std::string whole;
    for (auto& p : parts) whole += p;
    catalog::Hash h = repo::ContentHash::of(whole);
    uint32_t content = cat.add_content(h, size, refs);
    uint32_t e = cat.add_entry(parent, name);
    cat.add_version(e, catalog::Version::file(backup, {.mode = mode, .mtime_ns = mtime}, size, content));
    return e;
  }
  uint32_t dir(uint32_t parent, const std::string& name) {
    uint32_t e = cat.add_entry(parent, name);
    cat.add_version(e, catalog::Version::dir(backup, {.mode = 0700, .mtime_ns = 1400000000000000000}));
    return e;
  }
  Result restore(const std::string& target, bool overwrite = false) {
    cat.build_child_index();
    std::vector<Item> items;
    cat.for_each_at(root, backup, [&](uint32_t e, uint32_t v) { items.push_back({e, v}); });
    Options o;
    o.target = target;
    o.threads = 2;
    o.overwrite = overwrite;
    return run(cat, items, o, reader);
  }
  static struct stat stat_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
  }
  static std::vector<std::string> names_in(const std::string& d) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(d)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir tmp;
  catalog::Catalog cat;
  FakeReader reader;
  uint32_t folder = 0, backup = 0, root = 0;
  uint64_t next_offset = 16;
};

TEST_F(RestoreTest, FilesDirectoriesAndSymlinksComeBackWithTheirMetadata) {
  uint32_t sub = dir(root, "sub");
  file(root, "one", {"hello"});
  file(sub, "parts", {"aaa", "bbbb", "c"}, 0600, -1500000000);
  file(sub, "empty", {});
  uint32_t l = cat.add_entry(root, "link");
  cat.add_version(
      l, catalog::Version::symlink(backup, {.mode = 0777, .mtime_ns = 5000000000}, cat.add_string("sub/parts"), 9));
  Result r = restore(tmp.path());
  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.dirs, 2u);
  EXPECT_EQ(r.symlinks, 1u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.bytes, 13u);
  std::string base = tmp / "data";
  EXPECT_EQ(testing_support::slurp(base + "/one"), "hello");
  EXPECT_EQ(testing_support::slurp(base + "/sub/parts"), "aaabbbbc");
  EXPECT_EQ(testing_support::slurp(base + "/sub/empty"), "");
  EXPECT_EQ(std::filesystem::read_symlink(base + "/link").string(), "sub/parts");
  struct stat st = stat_of(base + "/sub/parts");
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, -2);  // before the epoch: -1.5 s
  EXPECT_EQ(st.st_mtim.tv_nsec, 500000000);
  struct stat d = stat_of(base);
  EXPECT_EQ(d.st_mode & 07777, 0750u);
  EXPECT_EQ(d.st_mtim.tv_nsec, 123456789);  // set after what is inside was written
  EXPECT_EQ(stat_of(base + "/sub").st_mode & 07777, 0700u);
  EXPECT_EQ(names_in(base), (std::vector<std::string>{"link", "one", "sub"}));  // no temporaries left
}

TEST_F(RestoreTest, ADamagedBlobLosesOnlyItsFileAndLeavesNoTemporary) {
  file(root, "good", {"fine"});
  file(root, "bad", {"part one", "part two"});
  reader.damaged.insert(reader.blobs.rbegin()->first);  // the second part of "bad"
  Result r = restore(tmp.path());
  EXPECT_EQ(r.files, 1u);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(names_in(tmp / "data"), std::vector<std::string>{"good"});
}

TEST_F(RestoreTest, AnExistingFileIsReplacedAtomically) {
  file(root, "f", {"new content"});
  testing_support::mkdirs(tmp / "data");
  testing_support::spit(tmp / "data/f", "old", 0666);
  Result r = restore(tmp.path(), true);
  EXPECT_EQ(testing_support::slurp(tmp / "data/f"), "new content");
  EXPECT_EQ(stat_of(tmp / "data/f").st_mode & 07777, 0640u);
  EXPECT_EQ(r.files, 1u);
  EXPECT_EQ(r.kept, 0u);
}

TEST_F(RestoreTest, WithoutOverwriteADifferentFileIsKept) {
  file(root, "f", {"new content"});
  file(root, "same_size", {"abcd"});
  file(root, "gone", {"comes back"});
  testing_support::mkdirs(tmp / "data");
  testing_support::spit(tmp / "data/f", "old", 0666);
  testing_support::spit(tmp / "data/same_size", "abce", 0640);
  Result r = restore(tmp.path());
  EXPECT_EQ(r.kept, 2u);
  EXPECT_EQ(r.files, 1u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(testing_support::slurp(tmp / "data/f"), "old");
  EXPECT_EQ(stat_of(tmp / "data/f").st_mode & 07777, 0666u);  // not touched at all
  EXPECT_EQ(testing_support::slurp(tmp / "data/same_size"), "abce");
  EXPECT_EQ(testing_support::slurp(tmp / "data/gone"), "comes back");
}

TEST_F(RestoreTest, AnIdenticalFileIsLeftAsItIs) {
  file(root, "f", {"same ", "content"});
  testing_support::mkdirs(tmp / "data");
  testing_support::spit(tmp / "data/f", "same content", 0640);
  timespec ts[2] = {{0, UTIME_OMIT}, {1600000000, 1}};  // the version's mtime
  ASSERT_EQ(::utimensat(AT_FDCWD, (tmp / "data/f").c_str(), ts, 0), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown((tmp / "data/f").c_str(), 0, 0), 0);
  }
  ino_t before = stat_of(tmp / "data/f").st_ino;
  Result r = restore(tmp.path());
  EXPECT_EQ(r.identical, 1u);
  EXPECT_EQ(r.files, 0u);
  EXPECT_EQ(r.kept, 0u);
  EXPECT_EQ(stat_of(tmp / "data/f").st_ino, before);
}

TEST_F(RestoreTest, TheSameContentWithOtherMetadataIsRestoredWithoutAsking) {
  file(root, "f", {"same content"});
  testing_support::mkdirs(tmp / "data");
  testing_support::spit(tmp / "data/f", "same content", 0666);  // e.g. opened up by another user
  ino_t before = stat_of(tmp / "data/f").st_ino;
  Result r = restore(tmp.path());
  EXPECT_EQ(r.files, 1u);
  EXPECT_EQ(r.kept, 0u);
  EXPECT_EQ(stat_of(tmp / "data/f").st_mode & 07777, 0640u);
  EXPECT_NE(stat_of(tmp / "data/f").st_ino, before);  // a new inode: nobody keeps a handle on it
}

TEST_F(RestoreTest, AFifoAtTheDestinationIsKeptWithoutBlocking) {
  file(root, "f", {"data"});
  testing_support::mkdirs(tmp / "data");
  ASSERT_EQ(::mkfifo((tmp / "data/f").c_str(), 0600), 0);
  Result r = restore(tmp.path());  // a FIFO of the same name: never opened
  EXPECT_EQ(r.kept, 1u);
  EXPECT_TRUE(S_ISFIFO(stat_of(tmp / "data/f").st_mode));
}

TEST_F(RestoreTest, ADryRunNamesWhatItWouldKeep) {
  file(root, "f", {"new"});
  testing_support::mkdirs(tmp / "data");
  testing_support::spit(tmp / "data/f", "old", 0644);
  cat.build_child_index();
  std::vector<Item> items;
  cat.for_each_at(root, backup, [&](uint32_t e, uint32_t v) { items.push_back({e, v}); });
  EXPECT_EQ(count_differing(cat, items, tmp.path()), 1u);
  Options o;
  o.target = tmp.path();
  o.dry_run = true;
  Result r = run(cat, items, o, reader);
  EXPECT_EQ(r.kept, 1u);
  EXPECT_EQ(r.files, 0u);
  EXPECT_EQ(testing_support::slurp(tmp / "data/f"), "old");
}

TEST_F(RestoreTest, AFileWhereADirectoryMustGoIsReported) {
  dir(root, "sub");
  testing_support::mkdirs(tmp / "data");
  testing_support::spit(tmp / "data/sub", "a file in the way", 0644);
  Result r = restore(tmp.path());
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(testing_support::slurp(tmp / "data/sub"), "a file in the way");
  EXPECT_EQ(stat_of(tmp / "data/sub").st_mode & 07777, 0644u);  // not given the directory's mode
}

TEST_F(RestoreTest, ADryRunWritesNothing) {
  file(root, "f", {"x"});
  cat.build_child_index();
  std::vector<Item> items;
  cat.for_each_at(root, backup, [&](uint32_t e, uint32_t v) { items.push_back({e, v}); });
  Options o;
  o.target = tmp.path();
  o.dry_run = true;
  Result r = run(cat, items, o, reader);
  EXPECT_EQ(r.files, 1u);
  EXPECT_TRUE(names_in(tmp.path()).empty());
}

TEST(Destination, UnderATargetOrInPlace) {
  EXPECT_EQ(destination("/home/u/a", ""), "/home/u/a");
  EXPECT_EQ(destination("/home/u/a", "/tmp/r"), "/tmp/r/home/u/a");
  EXPECT_EQ(destination("/home/u/a", "/tmp/r//"), "/tmp/r/home/u/a");
  EXPECT_EQ(destination("/home/u/a", "/"), "/home/u/a");
}

}  // namespace
}  // namespace seshat::restore
