#include "seshat/process/process.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sys/auxv.h>
#include <sys/stat.h>
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

// Page faults are expensive, most of all in a virtual machine: reading, decrypting and
// decompressing a 25 MB catalog spent a third of a second faulting fresh pages in. glibc backs
// its big blocks with transparent huge pages when the tunable glibc.malloc.hugetlb=1 is set
// (unchanged backup of 200 k files: 2.8 -> 1.8 s), but tunables are read only when a program
// starts. So the program sets it and runs itself again, once, keeping its pid and arguments
// (valgrind does not follow the exec: run it with SESHAT_NO_HUGEPAGES=1, which turns this
// off). If the exec fails it just goes on.
void run_again_with_huge_pages(char** argv) {
  if (env::flag(env::kNoHugepages)) return;
  // Once only: the marker is ours, since glibc may drop tunables it does not like.
  if (env::get(env::kReexecuted)) {
    ::unsetenv(env::kReexecuted.name);
    return;
  }
  // Not with elevated privileges (setuid, file capabilities): glibc ignores tunables there.
  if (::getauxval(AT_SECURE)) return;
  std::string tunables = env::get(env::kGlibcTunables).value_or("");
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos) return;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof self)) return;
  self[n] = '\0';
  // Only if /proc/self/exe is this program: started as "ld.so ./seshat" it is the loader.
  Dl_info info;
  struct stat a, b;
  if (::dladdr(reinterpret_cast<void*>(&run_again_with_huge_pages), &info) == 0 || !info.dli_fname ||
      ::stat(info.dli_fname, &a) != 0 || ::stat(self, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
    return;
  std::string value = tunables.empty() ? "glibc.malloc.hugetlb=1" : tunables + ":glibc.malloc.hugetlb=1";
  if (::setenv(env::kGlibcTunables.name, value.c_str(), 1) != 0 || ::setenv(env::kReexecuted.name, "1", 1) != 0) return;
  ::execv(self, argv);
  // Not reached unless the exec failed: run as we are.
  ::unsetenv(env::kReexecuted.name);
}

}  // namespace

void start(char** argv) {
  run_again_with_huge_pages(argv);
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
