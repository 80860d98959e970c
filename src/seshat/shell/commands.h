// The command table: every command of the manual that exists so far, with its help text and
// action. One data structure; parsing, help, completion and GRAMMAR come from it.
#pragma once
#include "seshat/shell/grammar.h"

namespace seshat::shell {

// The shipped grammar. Built once; lives for the program. GRAMMAR PRUNE may change it.
Node& command_table();

}  // namespace seshat::shell
