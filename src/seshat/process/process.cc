#include "seshat/process/process.h"

#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "seshat/util/env.h"
#include "seshat/util/fault.h"
#include "seshat/util/interrupt.h"

namespace seshat::process {
namespace {

// No re-execution for huge pages any more: with the catalog's big arrays advised explicitly
// (catalog/codec.cc), running with glibc.malloc.hugetlb=1 changed an unchanged backup of 200 k
// files by less than the noise (1.83 s with it, 1.88 s without, medians of 3, 2026-12-02), so
// the process starts once, as tools like valgrind and perf expect.

}  // namespace

void start(char** argv) {
  (void)argv;
  std::signal(SIGPIPE, SIG_IGN);
  install_interrupt_handler();
  fault::init_from_env();
  // Two malloc arenas are enough for our few busy threads and keep fragmentation (and the
  // peak RSS) down. A fixed mmap threshold returns big buffers (a catalog being sealed or
  // loaded) to the system when freed instead of letting glibc raise the threshold and keep
  // them; the per-blob buffers of the packers are reused per thread, not reallocated. A fixed
  // mmap threshold also leaves the trim threshold at 128 KB, so every free at the top of a
  // heap gave pages back only to fault them in again: keep up to 16 MB of free top instead.
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
}

}  // namespace seshat::process
