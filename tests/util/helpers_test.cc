// The one implementation of each helper: io loops, AtomicFile, zstd, the environment table,
// the worker pool and the progress counter.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "../test_support.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/env.h"
#include "seshat/util/io.h"
#include "seshat/util/workers.h"
#include "seshat/util/zstd.h"

namespace seshat {
namespace {

using testing_support::TempDir;

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Io, WholeWritesAndReadsAndTheirErrors) {
  TempDir t;
  int fd = ::open((t / "f").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  io::Fd owned(fd);
  std::string data(1 << 20, 'x');
  ASSERT_TRUE(io::write_full(fd, data).ok());
  ASSERT_TRUE(io::pwrite_full(fd, "head", 0).ok());
  std::string buf(data.size() + 10, '\0');
  auto n = io::pread_full(fd, buf.data(), buf.size(), 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, data.size());  // short only at the end of the file
  EXPECT_EQ(buf.substr(0, 6), "headxx");
  auto bad = io::read_full(-1, buf.data(), 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().sys_errno(), EBADF);
  EXPECT_FALSE(io::write_full(-1, "x").ok());
}

TEST(AtomicFileTemp, ExclusiveUnpredictableAndInItsFinalMode) {
  TempDir t;
  ::umask(022);
  std::set<std::string> temps;
  for (int i = 0; i < 20; ++i) {
    AtomicFile::Options o;
    o.mode = 0640;
    o.marker = ".seshat-restore-";
    auto f = AtomicFile::create(t / "target", o);
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(f->temp_name().starts_with(".seshat-restore-" + std::to_string(::getpid()) + "-"));
    EXPECT_EQ(f->temp_name().size(), std::string(".seshat-restore-").size() + std::to_string(::getpid()).size() + 17);
    EXPECT_TRUE(temps.insert(f->temp_name()).second);
    struct stat st;
    ASSERT_EQ(::fstat(f->fd(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);  // before any content
  }
  EXPECT_TRUE(names_in(t.path()).empty());  // each aborted when dropped
}

TEST(AtomicFileTemp, CommitReplacesOrKeepsWhenAskedTo) {
  TempDir t;
  ASSERT_TRUE(write_file_atomic(t / "f", "old").ok());
  AtomicFile::Options keep;
  keep.replace = false;
  auto f = AtomicFile::create(t / "f", keep);
  ASSERT_TRUE(f->write("new").ok());
  auto c = f->commit();
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.value());  // it existed
  EXPECT_EQ(testing_support::slurp(t / "f"), "old");
  auto g = AtomicFile::create(t / "f", {});
  ASSERT_TRUE(g->write("new").ok());
  EXPECT_TRUE(g->commit().value());
  EXPECT_EQ(testing_support::slurp(t / "f"), "new");
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"f"});
}

TEST(AtomicFileTemp, NothingPlantedAtANameIsEverFollowed) {
  TempDir t;
  // Whatever another user planted: a symlink or a FIFO at a name of the marker's form is
  // never opened, since every temporary is created new (O_EXCL) under a random name.
  ASSERT_EQ(::symlink("/etc/passwd", (t / (".seshat-tmp-" + std::to_string(::getpid()) + "-0000000000000000")).c_str()),
            0);
  ASSERT_EQ(::mkfifo((t / ".seshat-tmp-fifo").c_str(), 0666), 0);
  ASSERT_TRUE(write_file_atomic(t / "f", "x").ok());
  EXPECT_EQ(testing_support::slurp(t / "f"), "x");
}

TEST(Zstd, RoundTripAndBoundedFrames) {
  std::string plain(100000, 'a');
  std::string out(zstd::bound(plain.size()), '\0');
  size_t n = zstd::compress(plain, out.data(), out.size(), 3);
  ASSERT_GT(n, 0u);
  ASSERT_LT(n, plain.size());
  out.resize(n);
  std::string back;
  ASSERT_TRUE(zstd::decompress(out, plain.size(), back).ok());
  EXPECT_EQ(back.substr(0, plain.size()), plain);
  EXPECT_FALSE(zstd::decompress(out, plain.size() - 1, back).ok());  // not the size expected
  EXPECT_FALSE(zstd::frame_size(out, plain.size() - 1).ok());        // over the limit
  EXPECT_FALSE(zstd::frame_size("not a frame", 1000).ok());
  std::string streamed;
  zstd::Compressor c(3, plain.size() * 2, [&](std::string_view p) { streamed.append(p); });
  c.update(plain);
  c.update(plain);
  c.finish();
  ASSERT_TRUE(zstd::decompress(streamed, plain.size() * 2, back).ok());
  EXPECT_EQ(back.substr(0, plain.size() * 2), plain + plain);
}

TEST(Env, TheTableAndTheParsers) {
  std::set<std::string> names;
  for (const env::Var* v : env::all()) {
    EXPECT_TRUE(names.insert(v->name).second) << v->name;
    EXPECT_TRUE(v->help && *v->help) << v->name;
  }
  EXPECT_TRUE(names.count("SESHAT_PASSWORD"));
  ::setenv("SESHAT_THREADS", "12", 1);
  EXPECT_EQ(env::get_int(env::kThreads, 1, 256), std::optional<int64_t>(12));
  EXPECT_EQ(worker_threads(2), 12);
  ::setenv("SESHAT_THREADS", "12x", 1);
  EXPECT_EQ(env::get_int(env::kThreads, 1, 256), std::nullopt);
  ::setenv("SESHAT_THREADS", "0", 1);
  EXPECT_EQ(env::get_int(env::kThreads, 1, 256), std::nullopt);
  ::setenv("SESHAT_THREADS", "", 1);
  EXPECT_EQ(env::get(env::kThreads), std::nullopt);
  ::unsetenv("SESHAT_THREADS");
  EXPECT_GE(worker_threads(1), 1);
}

TEST(Workers, AllRunAndTheFirstFailureIsRethrown) {
  std::atomic<int> ran{0};
  run_on_threads(4, [&] { ++ran; });
  EXPECT_EQ(ran.load(), 4);
  std::atomic<int> n{0};
  EXPECT_THROW(run_on_threads(3,
                              [&] {
                                if (n++ == 1) throw Error(ErrorKind::kPermanent, "one failed");
                              }),
               Error);
  EXPECT_EQ(n.load(), 3);  // the others ran to their end
}

TEST(Workers, ProgressCountsFromEveryThread) {
  Progress p(1000);
  run_on_threads(4, [&] {
    for (int i = 0; i < 250; ++i) p.add();
  });
  EXPECT_EQ(p.done(), 1000u);
}

TEST(Workers, ProgressStatusLineSaysBytesRateAndTimeLeft) {
  Progress p(4, 4096, "Backup");
  p.add();
  p.add_bytes(1000);
  std::string line = p.status_line(2.0, 500.0);
  EXPECT_NE(line.find("Backup: 1/4 files"), std::string::npos) << line;
  EXPECT_NE(line.find("1000 B of 4 KB, 500 B/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:06"), std::string::npos) << line;  // 3096 bytes left at 1000 B in 2 s
  Progress files_only(10, 0, "Restore");
  files_only.add(5);
  EXPECT_NE(files_only.status_line(20.0, 0).find("ETA 0:20"), std::string::npos) << files_only.status_line(20.0, 0);
}

// The live display's thread against workers that begin, end and count (TSan runs this).
TEST(Workers, LiveProgressWithManyThreads) {
  set_live_progress(true);
  {
    Progress p(400, 400 * 1000, "Verify");
    run_on_threads(4, [&] {
      for (int i = 0; i < 100; ++i) {
        std::string name = "file " + std::to_string(i);
        p.begin(name);
        p.add_bytes(1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        p.end(name);
        p.add();
      }
    });
    EXPECT_EQ(p.done(), 400u);
  }
  set_live_progress(false);
  EXPECT_FALSE(live_progress());
}

}  // namespace
}  // namespace seshat
