// The process itself, before any command runs: memory allocator settings,
// signals and the test hooks. main() -> shell::seshat_main() calls start() first.
#pragma once

namespace seshat::process {

// Sets up the allocator, signals and the test hooks; returns when the process is set up.
void start(char** argv);

}  // namespace seshat::process
