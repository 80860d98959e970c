// Micro-benchmarks for the catalog (src/seshat/catalog): how long a store's catalog takes to
// decode, encode and index, and how much memory each file version costs once loaded.
//
// The catalog is one realistic backup of 1,000,000 files: one host, one folder, 100
// directories of 100 directories (10,000 leaf directories) of 100 files each; every file
// has its own content (SHA-256) stored as one blob, ~2,000 blobs per container.
//
// Counters:
//   versions, encoded_MB                 the size of the test catalog
//   mem_B/version                        Catalog::memory_bytes() / versions, right after decode
//   mem_B/version_indexed                the same after build_child_index() and the content
//                                        index (what a backup holds while it runs)
//   rss_B/version, rss_B/version_indexed the growth of the resident set over the same steps,
//                                        measured in a forked child (clean allocator state)
//
// Build: the CMake target `catalog_bench` (links seshat_catalog, benchmark::benchmark), or
//   g++ -O2 -std=c++20 -I src bench/catalog_bench.cc build/libseshat_catalog.a
//       build/libseshat_util.a -lbenchmark -lpthread -lfmt
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "seshat/catalog/catalog.h"
#include "seshat/catalog/codec.h"

namespace {

using namespace seshat::catalog;

constexpr int kTop = 100, kSub = 100, kFiles = 100;  // 10,000 leaf dirs x 100 files
constexpr int kBlobsPerContainer = 2000;

template <size_t N>
void fill(std::array<uint8_t, N>& a, std::mt19937_64& rng) {
  for (size_t i = 0; i < N; i += 8) {
    uint64_t v = rng();
    std::memcpy(a.data() + i, &v, std::min<size_t>(8, N - i));
  }
}

Catalog build_catalog() {
  std::mt19937_64 rng(20240611);
  Catalog c;
  uint32_t host = c.find_or_add_host("bench-host");
  uint32_t folder = c.find_or_add_folder(host, "/home/user");
  const int64_t t0 = 1718100000LL * 1000000000LL;
  uint32_t backup = c.add_backup(folder, t0);
  c.backups[backup].complete = true;

  auto dir_version = [&](int64_t mtime) {
    Version v;
    v.backup = backup;
    v.type = Type::kDir;
    v.mode = 0755;
    v.uid = v.gid = 1000;
    v.mtime_ns = mtime;
    v.ctime_ns = mtime;
    v.inode = 1000 + rng() % 100000000;
    return v;
  };
  uint32_t root = c.folders[folder].root;
  c.add_version(root, dir_version(t0 - 86400LL * 1000000000LL));

  uint32_t container = kNone;
  uint64_t offset = 0;
  uint64_t inode = 5000000;
  char name[64];
  for (int t = 0; t < kTop; ++t) {
    std::snprintf(name, sizeof name, "project_%03d", t);
    uint32_t top = c.add_entry(root, name);
    c.add_version(top, dir_version(t0 - static_cast<int64_t>(rng() % (365LL * 86400)) * 1000000000LL));
    for (int s = 0; s < kSub; ++s) {
      std::snprintf(name, sizeof name, "module_%03d", s);
      uint32_t sub = c.add_entry(top, name);
      c.add_version(sub, dir_version(t0 - static_cast<int64_t>(rng() % (365LL * 86400)) * 1000000000LL));
      for (int f = 0; f < kFiles; ++f) {
        if (c.blobs.size() % kBlobsPerContainer == 0) {
          std::snprintf(name, sizeof name, "containers/SEF_bench-host_home-user_20240611120000_%03zu",
                        c.containers.size());
          container = c.add_container(name, 0);
          offset = 200;
        }
        uint32_t size = 512 + static_cast<uint32_t>(rng() % (64 * 1024));
        BlobRef b;
        b.container = container;
        b.offset = offset;
        b.compressed = rng() % 3 != 0;
        b.raw_size = size;
        b.length = (b.compressed ? size / 3 : size) / 16 * 16 + 16;
        offset += b.length;
        c.containers[container].size = offset;
        fill(b.iv, rng);
        fill(b.mac, rng);
        Hash h;
        fill(h, rng);
        uint32_t content = c.add_content(h, size, {b});

        std::snprintf(name, sizeof name, "source_file_%03d.%s", f, f % 3 == 0 ? "cc" : f % 3 == 1 ? "h" : "txt");
        uint32_t e = c.add_entry(sub, name);
        Version v;
        v.backup = backup;
        v.type = Type::kFile;
        v.mode = 0644;
        v.uid = v.gid = 1000;
        v.mtime_ns = t0 - static_cast<int64_t>(rng() % (3LL * 365 * 86400 * 1000000000LL));
        v.ctime_ns = v.mtime_ns + static_cast<int64_t>(rng() % 1000000000LL);
        v.inode = inode += 1 + rng() % 4;
        v.size = size;
        v.content = content;
        c.add_version(e, v);
      }
    }
  }
  c.backups[backup].files_stored = kTop * kSub * kFiles;
  return c;
}

const std::string& encoded() {
  static const std::string enc = encode(build_catalog());
  return enc;
}

size_t file_versions(const Catalog& c) {
  size_t n = 0;
  for (const auto& v : c.versions) n += v.type == Type::kFile;
  return n;
}

long rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

void build_indexes(Catalog& c) {
  c.build_child_index();
  Hash none{};
  benchmark::DoNotOptimize(c.find_content(none));  // builds the content index
}

void BM_CatalogEncode(benchmark::State& state) {
  Catalog c = decode(encoded());
  for (auto _ : state) {
    std::string out = encode(c);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["versions"] = static_cast<double>(c.versions.size());
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(c.versions.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(encoded().size()));
}

void BM_CatalogDecode(benchmark::State& state) {
  const std::string& enc = encoded();
  size_t versions = 0;
  for (auto _ : state) {
    Catalog c = decode(enc);
    versions = c.versions.size();
    benchmark::DoNotOptimize(c.versions.data());
  }
  state.counters["versions"] = static_cast<double>(versions);
  state.counters["encoded_MB"] = static_cast<double>(enc.size()) / 1e6;
  state.counters["encoded_B/version"] = static_cast<double>(enc.size()) / static_cast<double>(versions);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(versions));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(enc.size()));
}

// What opening the catalog for a backup costs: decode, child index, content index.
void BM_CatalogDecodeAndIndex(benchmark::State& state) {
  const std::string& enc = encoded();
  size_t versions = 0;
  for (auto _ : state) {
    Catalog c = decode(enc);
    build_indexes(c);
    versions = c.versions.size();
    benchmark::DoNotOptimize(c.versions.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(versions));
}

// The walk a full restore makes over the newest backup.
void BM_CatalogForEachAt(benchmark::State& state) {
  Catalog c = decode(encoded());
  c.build_child_index();
  uint64_t n = 0;
  for (auto _ : state) {
    n = 0;
    c.for_each_at(c.folders[0].root, static_cast<uint32_t>(c.backups.size() - 1), [&](uint32_t, uint32_t) { ++n; });
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}

// Memory per version. Measured in a forked child so that memory freed by the other
// benchmarks cannot be reused unseen; malloc_trim first returns what the parent freed.
void BM_CatalogMemory(benchmark::State& state) {
  const std::string& enc = encoded();
  struct Result {
    double versions, files, mem, mem_indexed, rss, rss_indexed;
  } r{};
  for (auto _ : state) {
    malloc_trim(0);
    int fds[2];
    if (pipe(fds) != 0) {
      state.SkipWithError("pipe failed");
      return;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      Result out{};
      long before = rss_bytes();
      {
        Catalog c = decode(enc);
        long after = rss_bytes();
        out.versions = static_cast<double>(c.versions.size());
        out.files = static_cast<double>(file_versions(c));
        out.mem = static_cast<double>(c.memory_bytes());
        out.rss = static_cast<double>(after - before);
        build_indexes(c);
        out.mem_indexed = static_cast<double>(c.memory_bytes());
        out.rss_indexed = static_cast<double>(rss_bytes() - before);
        benchmark::DoNotOptimize(c.versions.data());
      }
      ssize_t w = write(fds[1], &out, sizeof out);
      _exit(w == static_cast<ssize_t>(sizeof out) ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != static_cast<ssize_t>(sizeof r) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("the measuring child failed");
      return;
    }
  }
  state.counters["versions"] = r.versions;
  state.counters["file_versions"] = r.files;
  state.counters["mem_B/version"] = r.mem / r.versions;
  state.counters["mem_B/version_indexed"] = r.mem_indexed / r.versions;
  state.counters["rss_B/version"] = r.rss / r.versions;
  state.counters["rss_B/version_indexed"] = r.rss_indexed / r.versions;
}

BENCHMARK(BM_CatalogMemory)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CatalogDecode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CatalogDecodeAndIndex)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CatalogEncode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CatalogForEachAt)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
