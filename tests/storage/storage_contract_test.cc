// The Storage contract (storage.h), written once against a factory so every implementation
// runs the same suite. To add one (e.g. S3Storage), add a StorageFactory to the
// INSTANTIATE_TEST_SUITE_P list at the bottom.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.h"
#include "seshat/storage/fault_storage.h"
#include "seshat/storage/local_storage.h"
#include "seshat/storage/retry.h"
#include "seshat/storage/s3_storage.h"
#include "seshat/storage/storage.h"
#include "seshat/storage/wrappers.h"

namespace seshat::storage {
namespace {

using testing_support::TempDir;

// What a test gets from a factory: the storage, plus whatever keeps it alive.
struct StorageEnv {
  virtual ~StorageEnv() = default;
  std::shared_ptr<Storage> storage;
};

struct StorageFactory {
  std::string name;
  std::function<std::unique_ptr<StorageEnv>()> make;
};

std::ostream& operator<<(std::ostream& os, const StorageFactory& f) { return os << f.name; }

struct LocalEnv : StorageEnv {
  TempDir dir;
  LocalEnv() { storage = std::make_shared<LocalStorage>(dir / "store"); }
};

class S3Server;
std::string s3_unavailable_reason();

class StorageContract : public ::testing::TestWithParam<StorageFactory> {
 protected:
  void SetUp() override {
    env_ = GetParam().make();
    s = env_->storage.get();
    if (!s) GTEST_SKIP() << s3_unavailable_reason();
  }
  std::vector<std::string> names(const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& o : s->list(prefix)) out.push_back(o.name);
    return out;
  }
  std::unique_ptr<StorageEnv> env_;
  Storage* s = nullptr;
};

std::string pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

TEST_P(StorageContract, PutThenGet) {
  s->put("a", "hello");
  EXPECT_EQ(s->get("a"), "hello");
  s->put("dir/sub/obj", std::string("bin\0ary", 7));
  EXPECT_EQ(s->get("dir/sub/obj"), std::string("bin\0ary", 7));
}

TEST_P(StorageContract, PutReplaces) {
  s->put("a", std::string(1000, 'x'));
  s->put("a", "short");
  EXPECT_EQ(s->get("a"), "short");
  EXPECT_EQ(s->head("a"), 5u);
}

TEST_P(StorageContract, EmptyObject) {
  s->put("empty", "");
  EXPECT_EQ(s->get("empty"), "");
  EXPECT_EQ(s->head("empty"), 0u);
  ASSERT_EQ(s->list("").size(), 1u);
  EXPECT_EQ(s->list("")[0].size, 0u);
}

TEST_P(StorageContract, GetMissingIsNotFound) {
  EXPECT_THROW_KIND(kNotFound, s->get("missing"));
  EXPECT_THROW_KIND(kNotFound, s->get("no/such/dir/object"));
}

TEST_P(StorageContract, GetRange) {
  std::string data = pattern(10000, 1);
  s->put("obj", data);
  EXPECT_EQ(s->get_range("obj", 0, 10), data.substr(0, 10));
  EXPECT_EQ(s->get_range("obj", 1234, 4321), data.substr(1234, 4321));
  EXPECT_EQ(s->get_range("obj", 9990, 10), data.substr(9990));
  EXPECT_EQ(s->get_range("obj", 0, data.size()), data);
  EXPECT_EQ(s->get_range("obj", 500, 0), "");
  EXPECT_EQ(s->get_range("obj", data.size(), 0), "");
}

TEST_P(StorageContract, GetRangeOfAShortObjectIsCorruption) {
  s->put("obj", "0123456789");
  EXPECT_THROW_KIND(kCorruption, s->get_range("obj", 5, 6));
  EXPECT_THROW_KIND(kCorruption, s->get_range("obj", 0, 11));
  EXPECT_THROW_KIND(kCorruption, s->get_range("obj", 10, 1));
  EXPECT_THROW_KIND(kCorruption, s->get_range("obj", 100, 1));
}

TEST_P(StorageContract, GetRangeOfMissingIsNotFound) { EXPECT_THROW_KIND(kNotFound, s->get_range("missing", 0, 1)); }

TEST_P(StorageContract, Head) {
  EXPECT_EQ(s->head("x"), std::nullopt);
  s->put("x", "12345");
  EXPECT_EQ(s->head("x"), 5u);
  EXPECT_EQ(s->head("x/y"), std::nullopt);
  EXPECT_EQ(s->head("no/such/path"), std::nullopt);
}

// "dir" below is only a prefix of another object's name, not an object.
TEST_P(StorageContract, APrefixOfObjectNamesIsNotAnObject) {
  s->put("dir/obj", "data");
  EXPECT_EQ(s->head("dir"), std::nullopt);
  EXPECT_THROW_KIND(kNotFound, s->get("dir"));
}

TEST_P(StorageContract, ListByPrefixSortedWithSizes) {
  s->put("data/b", "22");
  s->put("data/a/2", "4444");
  s->put("data/a/1", "1");
  s->put("data/a-x", "333");
  s->put("database", "55555");
  s->put("other/data", "6");
  s->put("zzz", "7");

  auto all = s->list("");
  std::vector<std::string> all_names;
  for (const auto& o : all) all_names.push_back(o.name);
  EXPECT_EQ(all_names,
            (std::vector<std::string>{"data/a-x", "data/a/1", "data/a/2", "data/b", "database", "other/data", "zzz"}));
  EXPECT_TRUE(std::is_sorted(all_names.begin(), all_names.end()));

  auto data = s->list("data/");
  ASSERT_EQ(data.size(), 4u);
  EXPECT_EQ(data[0].name, "data/a-x");
  EXPECT_EQ(data[0].size, 3u);
  EXPECT_EQ(data[1].name, "data/a/1");
  EXPECT_EQ(data[1].size, 1u);
  EXPECT_EQ(data[2].name, "data/a/2");
  EXPECT_EQ(data[2].size, 4u);
  EXPECT_EQ(data[3].name, "data/b");
  EXPECT_EQ(data[3].size, 2u);

  EXPECT_EQ(names("data"), (std::vector<std::string>{"data/a-x", "data/a/1", "data/a/2", "data/b", "database"}));
  EXPECT_EQ(names("dat"), (std::vector<std::string>{"data/a-x", "data/a/1", "data/a/2", "data/b", "database"}));
  EXPECT_EQ(names("data/a"), (std::vector<std::string>{"data/a-x", "data/a/1", "data/a/2"}));
  EXPECT_EQ(names("data/a/"), (std::vector<std::string>{"data/a/1", "data/a/2"}));
  EXPECT_EQ(names("data/a/1"), (std::vector<std::string>{"data/a/1"}));
  EXPECT_EQ(names("z"), (std::vector<std::string>{"zzz"}));
  EXPECT_TRUE(names("nothing").empty());
  EXPECT_TRUE(names("nothing/deeper/").empty());
  EXPECT_TRUE(names("data/c").empty());
}

// No valid object name starts with "../" or "./", so these prefixes match nothing (and must
// never reach outside the store).
TEST_P(StorageContract, ListWithPrefixesNoObjectNameCanHave) {
  s->put("a/b", "x");
  s->put("c", "y");
  for (const char* prefix : {"../", "./", "a/../", "a/./", "/", "//", "a//"}) {
    std::vector<std::string> got = names(prefix);
    EXPECT_TRUE(got.empty()) << "list(\"" << prefix << "\") returned " << got.size() << " names, the first "
                             << (got.empty() ? "" : got[0]);
  }
}

TEST_P(StorageContract, ListOfEmptyStore) { EXPECT_TRUE(s->list("").empty()); }

TEST_P(StorageContract, RemoveAndRemoveMissing) {
  s->put("a/b", "x");
  s->remove("a/b");
  EXPECT_EQ(s->head("a/b"), std::nullopt);
  EXPECT_THROW_KIND(kNotFound, s->get("a/b"));
  EXPECT_TRUE(names("").empty());
  s->remove("a/b");            // already gone
  s->remove("never/existed");  // never there
}

TEST_P(StorageContract, RemoveMany) {
  s->put("a", "1");
  s->put("b/c", "2");
  s->put("d", "3");
  s->remove_many({});
  EXPECT_EQ(s->list("").size(), 3u);
  s->remove_many({"a", "b/c", "never/there"});
  EXPECT_EQ(names(""), std::vector<std::string>{"d"});
  // Many at once.
  std::vector<std::string> many;
  for (int i = 0; i < 50; ++i) many.push_back("m/" + std::to_string(i));
  for (const auto& n : many) s->put(n, "");
  EXPECT_EQ(s->list("m/").size(), 50u);
  s->remove_many(many);
  EXPECT_TRUE(s->list("m/").empty());
  EXPECT_EQ(s->get("d"), "3");
}

TEST_P(StorageContract, PutIfAbsent) {
  EXPECT_TRUE(s->put_if_absent("lock", "first"));
  EXPECT_FALSE(s->put_if_absent("lock", "second"));
  EXPECT_EQ(s->get("lock"), "first");
  EXPECT_EQ(names(""), std::vector<std::string>{"lock"});  // the loser left nothing behind
  s->remove("lock");
  EXPECT_TRUE(s->put_if_absent("lock", "third"));
  EXPECT_EQ(s->get("lock"), "third");
  EXPECT_TRUE(s->put_if_absent("deep/new/name", "n"));
  EXPECT_EQ(s->get("deep/new/name"), "n");
}

TEST_P(StorageContract, PutIfAbsentStream) {
  std::string big(5u << 20, 'b');
  auto pieces = [&](const std::string& text) {
    return [&, text](const Storage::Sink& sink) {
      sink(text);
      sink(big);
      sink("end");
    };
  };
  EXPECT_TRUE(s->put_if_absent_stream("db/1", pieces("first")));
  EXPECT_FALSE(s->put_if_absent_stream("db/1", pieces("second")));
  EXPECT_EQ(s->get("db/1"), "first" + big + "end");
  // A producer that fails leaves nothing under the name, and the name stays free.
  EXPECT_THROW(s->put_if_absent_stream("db/2",
                                       [&](const Storage::Sink& sink) {
                                         sink(big);
                                         throw Error(ErrorKind::kPermanent, "producer failed");
                                       }),
               Error);
  EXPECT_EQ(names(""), std::vector<std::string>{"db/1"});
  EXPECT_TRUE(s->put_if_absent_stream("db/2", pieces("again")));
  EXPECT_EQ(s->head("db/2"), std::optional<uint64_t>(5 + big.size() + 3));
}

TEST_P(StorageContract, PutIfAbsentRaceHasOneWinner) {
  if (!s->capabilities().conditional_create) GTEST_SKIP() << "put_if_absent is not atomic here";
  for (int round = 0; round < 10; ++round) {
    std::string name = "race/" + std::to_string(round);
    std::atomic<int> wins{0};
    std::atomic<int> winner{-1};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        if (s->put_if_absent(name, "thread " + std::to_string(t))) {
          ++wins;
          winner = t;
        }
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << name;
    EXPECT_EQ(s->get(name), "thread " + std::to_string(winner.load()));
  }
}

TEST_P(StorageContract, WriterNothingVisibleBeforeCommit) {
  auto w = s->create("containers/c1", ObjectClass::kMetadata);
  w->write("abc");
  w->write("");
  w->write("defg");
  EXPECT_EQ(w->size(), 7u);
  EXPECT_EQ(s->head("containers/c1"), std::nullopt);
  EXPECT_TRUE(names("").empty()) << "an uncommitted upload is listed";
  w->commit();
  EXPECT_EQ(s->get("containers/c1"), "abcdefg");
  EXPECT_EQ(names(""), std::vector<std::string>{"containers/c1"});
}

TEST_P(StorageContract, WriterLargeStreamedObject) {
  // Larger than any reasonable internal buffer, written in odd-sized pieces.
  std::string data = pattern((9u << 20) + 12345, 2);
  auto w = s->create("big", ObjectClass::kMetadata);
  for (size_t off = 0; off < data.size(); off += 999983) w->write(std::string_view(data).substr(off, 999983));
  EXPECT_EQ(w->size(), data.size());
  EXPECT_EQ(s->head("big"), std::nullopt);
  w->commit();
  EXPECT_EQ(s->head("big"), data.size());
  EXPECT_EQ(s->get("big"), data);
  EXPECT_EQ(s->get_range("big", 5u << 20, 100), data.substr(5u << 20, 100));
}

TEST_P(StorageContract, WriterAbortLeavesNothing) {
  auto w = s->create("x/aborted", ObjectClass::kMetadata);
  w->write(std::string(5u << 20, 'a'));
  w->abort();
  EXPECT_EQ(s->head("x/aborted"), std::nullopt);
  EXPECT_TRUE(names("").empty());
  w.reset();
  EXPECT_TRUE(names("").empty());
}

TEST_P(StorageContract, WriterDestroyedWithoutCommitLeavesNothing) {
  {
    auto w = s->create("dropped", ObjectClass::kMetadata);
    w->write("data");
  }
  EXPECT_EQ(s->head("dropped"), std::nullopt);
  EXPECT_TRUE(names("").empty());
}

TEST_P(StorageContract, WriterReplacesOnlyAtCommit) {
  s->put("obj", "old");
  auto w = s->create("obj", ObjectClass::kMetadata);
  w->write("new content");
  EXPECT_EQ(s->get("obj"), "old");
  w->commit();
  EXPECT_EQ(s->get("obj"), "new content");
  auto w2 = s->create("obj", ObjectClass::kMetadata);
  w2->write("discarded");
  w2->abort();
  EXPECT_EQ(s->get("obj"), "new content");
}

TEST_P(StorageContract, ManyWritersAtOnce) {
  std::vector<std::unique_ptr<ObjectWriter>> ws;
  for (int i = 0; i < 5; ++i) ws.push_back(s->create("multi/" + std::to_string(i), ObjectClass::kMetadata));
  for (int i = 0; i < 5; ++i) ws[i]->write(std::string(i + 1, static_cast<char>('a' + i)));
  ws[1]->abort();
  ws[3].reset();
  ws[0]->commit();
  ws[2]->commit();
  ws[4]->commit();
  EXPECT_EQ(names("multi/"), (std::vector<std::string>{"multi/0", "multi/2", "multi/4"}));
  EXPECT_EQ(s->get("multi/4"), "eeeee");
}

TEST_P(StorageContract, ConcurrentPutsAndGets) {
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string name = "t" + std::to_string(t) + "/o" + std::to_string(i);
        std::string data = pattern(1000 + i, t * 100 + i);
        s->put(name, data);
        if (s->get(name) != data) ++bad;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(s->list("").size(), 120u);
}

TEST_P(StorageContract, InvalidNamesAreInvalidInput) {
  for (const std::string& bad : std::vector<std::string>{"../x", "/abs", "a//b", "", "a/", ".", "..", "a/./b", "a/../b",
                                                         "x/..", "./x", std::string("nul\0byte", 8)}) {
    SCOPED_TRACE("name '" + bad + "'");
    EXPECT_THROW_KIND(kInvalidInput, s->put(bad, "x"));
    EXPECT_THROW_KIND(kInvalidInput, s->put_if_absent(bad, "x"));
    EXPECT_THROW_KIND(kInvalidInput, s->get(bad));
    EXPECT_THROW_KIND(kInvalidInput, s->get_range(bad, 0, 1));
    EXPECT_THROW_KIND(kInvalidInput, s->head(bad));
    EXPECT_THROW_KIND(kInvalidInput, s->remove(bad));
    EXPECT_THROW_KIND(kInvalidInput, s->create(bad, ObjectClass::kMetadata));
  }
  EXPECT_TRUE(names("").empty());
}

TEST_P(StorageContract, DescribeIsNotEmpty) { EXPECT_FALSE(s->describe().empty()); }

// The real S3 protocol against the S3-compatible test server on 127.0.0.1 (tests/s3server),
// started once for this binary with one bucket per test.
class S3Server {
 public:
  static S3Server& get() {
    static S3Server server;
    return server;
  }
  bool ok() const { return port_ > 0; }
  const std::string& why() const { return why_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string next_bucket() { return "contract-" + std::to_string(++used_); }
  ~S3Server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  static constexpr int kBuckets = 60;
  S3Server() {
    std::string script = std::string(SESHAT_SOURCE_DIR) + "/tests/s3server/server.js";
    if (::access((std::string(SESHAT_SOURCE_DIR) + "/tests/s3server/node_modules").c_str(), F_OK) != 0) {
      why_ = "the S3 test server is not installed (SESHAT_SETUP_TESTS=1 tools/setup.sh)";
      return;
    }
    std::vector<std::string> args = {"node", script, dir_ / "s3data", "0"};
    for (int i = 1; i <= kBuckets; ++i) args.push_back("contract-" + std::to_string(i));
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("node", argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* f = ::fdopen(out[0], "r");
    char line[256];
    // The server prints "PORT <n>" once it listens.
    while (f && std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "PORT %d", &port_) == 1) break;
    if (port_ <= 0) why_ = "the S3 test server did not start (is node installed?)";
  }
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int used_ = 0;
  std::string why_;
};

std::string s3_unavailable_reason() { return S3Server::get().why(); }

struct S3Env : StorageEnv {
  S3Env() {
    S3Server& server = S3Server::get();
    if (!server.ok()) return;
    S3Options o;
    o.bucket = server.next_bucket();
    o.endpoint = server.endpoint();
    o.credentials = {"S3RVER", "S3RVER", ""};
    o.part_size = 1 << 20;  // small parts, so multipart uploads happen in these tests
    // As the program uses it: every operation through the retry wrapper.
    storage = std::make_shared<RetryingStorage>(std::make_shared<S3Storage>(o), RetryOptions{.attempts = 2});
  }
};

INSTANTIATE_TEST_SUITE_P(Implementations, StorageContract,
                         ::testing::Values(StorageFactory{"Local", [] { return std::make_unique<LocalEnv>(); }},
                                           StorageFactory{"S3", [] { return std::make_unique<S3Env>(); }}),
                         [](const ::testing::TestParamInfo<StorageFactory>& i) { return i.param.name; });

}  // namespace
}  // namespace seshat::storage
