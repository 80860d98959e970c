#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "seshat/shell/shell.h"

namespace {

// Page faults are expensive, most of all in a virtual machine: reading, decrypting and
// decompressing a 25 MB catalog spent a third of a second faulting fresh pages in. glibc backs
// its big blocks with transparent huge pages when the tunable glibc.malloc.hugetlb=1 is set
// (unchanged backup of 200 k files: 2.8 -> 1.8 s), but tunables are read only when a program
// starts. So the program sets it and runs itself again, once, keeping its pid and arguments.
// SESHAT_NO_HUGEPAGES=1 turns this off; if the exec fails it just goes on.
void run_again_with_huge_pages(char** argv) {
  if (const char* off = std::getenv("SESHAT_NO_HUGEPAGES"); off && *off && std::strcmp(off, "0") != 0) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.hugetlb")) return;
  std::string value = tunables && *tunables ? std::string(tunables) + ":glibc.malloc.hugetlb=1" : "glibc.malloc.hugetlb=1";
  // The binary's own path, not /proc/self/exe, so that the process keeps its name for ps,
  // pgrep and killall.
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  if (::setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  ::execv(self, argv);
  // Not reached unless the exec failed (no /proc): run as we are.
}

}  // namespace

int main(int argc, char** argv) {
  run_again_with_huge_pages(argv);
  return seshat::shell::seshat_main(argc, argv);
}
