// Test hooks for the crash and fault campaigns (tests/integration/test_faults.py). They cost
// one relaxed atomic load when unused, and are driven only by environment variables that no
// user sets:
//
//   SESHAT_CRASH_AT=<point>:<n>[,<point>:<n>...]
//       the n-th time the program passes crash point <point> it kills itself with SIGKILL
//       (a real SIGKILL: no destructor, no flush, no atexit); with "<point>:<n>=stop" it
//       stops itself (SIGSTOP) instead, for a test to change files and send SIGCONT. The
//       points: walk.dir, walk.child, pack.file, container.append, container.before_commit,
//       container.committed, catalog.before_put, catalog.after_put, local.before_rename,
//       s3.part_uploaded, backup.before_final_save (doc/testing.md).
//   SESHAT_CRASH_LOG=<file>
//       every crash point passed is appended to <file> as "<point> <count>" (to learn how
//       many times a run passes each point).
#pragma once
#include <atomic>
#include <string_view>

namespace seshat::fault {

namespace detail {
extern std::atomic<bool> g_enabled;
void passed(std::string_view point);
}  // namespace detail

// Marks a crash point.
inline void point(std::string_view name) {
  if (detail::g_enabled.load(std::memory_order_relaxed)) detail::passed(name);
}

// Reads SESHAT_CRASH_AT / SESHAT_CRASH_LOG; called once at program start.
void init_from_env();

}  // namespace seshat::fault
