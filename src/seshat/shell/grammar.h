// The command grammar as one data table (DESIGN.md §8). From it come parsing
// (case-insensitive, unambiguous prefixes), HELP/?, the prompt of an incomplete command,
// completion, GRAMMAR PRINT and GRAMMAR CHECK.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "seshat/shell/tokenizer.h"

namespace seshat::session {
class Session;
}

namespace seshat::shell {

enum class ArgType { kNone, kInteger, kWord, kDirectory, kRegex, kDate, kTime };

const char* arg_name(ArgType t);  // "<Integer>", ...

struct Context;
// An action returns 0 on success, non-zero if the command failed (after reporting why).
using Action = std::function<int(Context&)>;

struct Node {
  std::vector<std::string> keywords;  // upper case; several = synonyms; empty = typed argument
  ArgType arg = ArgType::kNone;
  std::string help;
  Action action;  // set where a command may end
  std::vector<Node> children;
};

struct Context {
  session::Session& session;
  std::vector<std::string> args;  // typed arguments in order
  bool interactive = false;
  bool exit_requested = false;
  std::function<void()> before_command;  // run before each command's action (the shell's reload check)
};

// Does this token match the node? Keywords: any unambiguous prefix (checked by the caller).
bool accepts(const Node& node, const std::string& token);

// kHelp: the line ended with ? after a partial command; its help was shown and nothing ran
// (an interactive shell stays at that command's prompt: `pending` holds it).
enum class ParseStatus { kOk, kFailed, kIncomplete, kExit, kHelp };

struct ParseOutcome {
  ParseStatus status = ParseStatus::kOk;
  std::vector<const Node*> pending;  // incomplete: the nodes so far (for the prompt)
  std::vector<std::string> pending_args;
  size_t next_token = 0;
};

// Runs the commands in `tokens` (several commands may follow each other). `line` is the text
// the tokens came from, for the caret ("" for command-line arguments). Stops at the first
// failure. With pending state from an incomplete line, continues that command.
ParseOutcome run_tokens(const Node& root, const std::vector<Token>& tokens, const std::string& line, Context& ctx,
                        std::vector<const Node*> pending_path = {}, std::vector<std::string> pending_args = {});

// Lines for HELP: what may follow `node`.
std::vector<std::string> help_lines(const Node& node);
// The whole tree, one node per line, indented.
std::vector<std::string> print_tree(const Node& root);
// Problems: ambiguous prefixes among siblings, nodes without help, dead ends (no action and
// no children), more than one free-text argument among siblings. Empty means good.
std::vector<std::string> check_tree(const Node& root);
// Removes from the tree the nodes that can never be used: dead ends (no action and nothing
// may follow) and keyword nodes whose keywords all repeat an earlier sibling's. Returns a
// line per node removed.
std::vector<std::string> prune_tree(Node& root);
// Keywords that complete `prefix` after the words in `before`.
std::vector<std::string> complete(const Node& root, const std::vector<std::string>& before, const std::string& prefix);
// The node the words in `before` lead to, the way run_tokens reads them (the root when a
// command is complete); nullptr if they are not a valid start.
const Node* node_after(const Node& root, const std::vector<std::string>& before);

}  // namespace seshat::shell
