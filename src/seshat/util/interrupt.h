// Ctrl-C: the first SIGINT (or SIGTERM) sets a flag that long-running work polls to stop at
// a clean point; a second one ends the process at once.
#pragma once

namespace seshat {

void install_interrupt_handler();
bool interrupted();
void clear_interrupt();
// While not busy (e.g. at the shell prompt) signals are counted but never end the process.
void set_busy(bool busy);

}  // namespace seshat
