// The command table: every command of the manual, with its help text and action. One data
// structure (DESIGN.md §8); parsing, help, completion and GRAMMAR come from it. Each command
// family contributes its part from its own file (cmd_*.cc); actions are small adapters that
// call the session and print the rows it returns.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "seshat/shell/grammar.h"

namespace seshat::shell {

// The shipped grammar, built once, never changed (GRAMMAR PRUNE works on a copy).
const Node& command_table();

// ---- the families (cmd_*.cc)
std::vector<Node> backup_commands();    // AUTOMATIC, BACKUP, INITIALIZE
std::vector<Node> db_commands();        // DB ..., RESET DB, VERIFY
std::vector<Node> list_commands();      // LIST ..., SEARCH, MEMSTATS
std::vector<Node> select_commands();    // SELECT ..., CD
std::vector<Node> restore_commands();   // RESTORE ...
std::vector<Node> settings_commands();  // SET, S3, STORE, SHOW, EXCLUDE, INCLUDE
std::vector<Node> meta_commands();      // HELP, EXIT, GRAMMAR

// ---- building blocks of the families
Node kw(std::vector<std::string> words, std::string help, Action action = nullptr, std::vector<Node> children = {});
Node arg(ArgType type, std::string help, Action action = nullptr, std::vector<Node> children = {});
// An action that calls fn(session) and succeeds.
Action run(std::function<void(session::Session&)> fn);
// An action that calls fn(session, first argument) and succeeds.
Action run_arg(std::function<void(session::Session&, const std::string&)> fn);
// Prints one line on standard output (on stderr under SET OUTPUT JSON).
void out(const std::string& s);
// SET OUTPUT JSON: the command prints its result as JSON (log::json, doc/json.md).
bool json_output(const Context& c);
// The typed arguments joined by blanks (a date and a time).
std::string join_args(const Context& c);
// Asks the user to type `expected` (on the terminal). In batch mode, refuses unless
// SET CONFIRM NO was given. Throws Error(kInvalidInput) when not confirmed.
void require_confirmation(Context& c, const std::string& question, const std::string& expected);

}  // namespace seshat::shell
