// The process itself, before any command runs: memory allocator settings, huge pages,
// signals and the test hooks. main() -> shell::seshat_main() calls start() first.
#pragma once

namespace seshat::process {

// May run the program again once with the same pid and arguments (see process.cc); returns
// when the process is set up.
void start(char** argv);

}  // namespace seshat::process
