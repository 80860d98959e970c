#include "seshat/util/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace seshat {
namespace {

std::atomic<int> g_count{0};
std::atomic<bool> g_busy{false};

void on_signal(int sig) {
  if (!g_busy.load()) {
    g_count.store(1);
    return;
  }
  if (g_count.fetch_add(1) >= 1) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  const char msg[] = "\nInterrupted: stopping at a clean point (again to quit at once)\n";
  ssize_t r = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)r;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_count.load() > 0; }
void clear_interrupt() { g_count = 0; }
void set_busy(bool busy) { g_busy = busy; }

}  // namespace seshat
