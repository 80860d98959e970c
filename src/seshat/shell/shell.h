// The program: command-line tokens, then the interactive shell (libedit, history in
// ~/.seshat/history) or, when standard input is not a terminal, commands read from it.
#pragma once

namespace seshat::shell {

// Exit status: 0 success; 1 a command failed; 3 everything ran but some files or
// directories could not be backed up (each was reported).
int seshat_main(int argc, char** argv);

}  // namespace seshat::shell
