// shell::tokenize and shell::run_tokens on the shipped grammar, plus help_lines, complete,
// check_tree, print_tree and prune_tree.
//
// No real command runs: the tree from command_table() is copied with every Action replaced
// by a stand-in that checks what run_tokens hands it (one argument per typed node on the
// path, each one its node accepts) and returns 0. The few actions that only touch the grammar
// behave as the real ones do, on the copy: BYE/EXIT/QUIT request the exit, HELP prints
// help_lines, GRAMMAR CHECK/PRINT/PRUNE run check_tree/print_tree/prune_tree (PRUNE
// rebuilds every children vector, including the one holding the running PRUNE node, as the
// real command does). The Context's Session is real but never used: it is constructed once
// with $HOME pointing at a fresh temporary directory.
//
// Input: byte 0 holds flags, the rest is text split into lines.
//   bit 0  stand-in actions return 1 (the command failed) instead of 0
//   bit 1  interactive: an incomplete command continues on the next line and a failure
//          does not stop; otherwise a script (seshat < file): the first failure ends it
//   bit 2  prune the copy before the first line (GRAMMAR PRUNE run earlier)
//   bit 3  the lines are command-line arguments, one token each (seshat WORD WORD ...)
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/shell/grammar.h"
#include "seshat/shell/tokenizer.h"

using namespace seshat;
using namespace seshat::shell;

namespace {

struct ActionInfo {
  std::string where;               // keyword path, e.g. "GRAMMAR PRUNE"
  std::vector<ArgType> arg_types;  // typed nodes on the path, in order
  std::vector<Node> arg_nodes;     // the same, as nodes for accepts()
};

Node* g_root = nullptr;  // the copy the current input runs on
bool g_fail = false;     // stand-ins return 1
bool g_pruned = false;   // prune_tree ran on *g_root: it must be copied afresh

// Takes the info by value: GRAMMAR PRUNE destroys the std::function this is called from.
int stand_in(std::shared_ptr<const ActionInfo> info, Context& ctx) {
  FUZZ_CHECK(ctx.args.size() == info->arg_nodes.size());
  for (size_t i = 0; i < ctx.args.size(); ++i) {
    FUZZ_CHECK(accepts(info->arg_nodes[i], ctx.args[i]));
    if (info->arg_types[i] == ArgType::kInteger) {
      // What the real actions do with it (std::stoi must not throw).
      volatile int n = std::stoi(ctx.args[i]);
      (void)n;
    }
  }
  const std::string& w = info->where;
  if (w == "BYE") {
    ctx.exit_requested = true;
    return 0;
  }
  if (w == "HELP") {
    for (const auto& l : help_lines(*g_root)) std::printf("%s\n", l.c_str());
    return 0;
  }
  if (w == "GRAMMAR CHECK") return check_tree(*g_root).empty() ? 0 : 1;
  if (w == "GRAMMAR PRINT") {
    for (const auto& l : print_tree(*g_root)) std::printf("%s\n", l.c_str());
    return 0;
  }
  if (w == "GRAMMAR PRUNE") {
    // Nothing of `info` is used after this line (it is a copy anyway).
    g_pruned = true;
    prune_tree(*g_root);
    return g_fail ? 1 : 0;
  }
  return g_fail ? 1 : 0;
}

Node copy_tree(const Node& src, const std::string& where, const std::vector<Node>& args_above) {
  Node n;
  n.keywords = src.keywords;
  n.arg = src.arg;
  n.help = src.help;
  std::string here = where;
  if (!src.keywords.empty())
    here += (here.empty() ? "" : " ") + src.keywords[0];
  else if (src.arg != ArgType::kNone)
    here += (here.empty() ? "" : " ") + std::string(arg_name(src.arg));
  std::vector<Node> args = args_above;
  if (src.keywords.empty() && src.arg != ArgType::kNone) {
    Node a;
    a.arg = src.arg;
    args.push_back(a);
  }
  if (src.action) {
    auto info = std::make_shared<ActionInfo>();
    info->where = here;
    info->arg_nodes = args;
    for (const auto& a : args) info->arg_types.push_back(a.arg);
    n.action = [info](Context& c) { return stand_in(info, c); };
  }
  for (const Node& c : src.children) n.children.push_back(copy_tree(c, here, args));
  return n;
}

struct Fixture {
  std::string home;
  std::unique_ptr<session::Session> session;
  Node pristine;  // the copy of command_table(), made once
  Node current;   // what inputs run on; copied from pristine again after a prune

  Fixture() {
    char tmpl[] = "/tmp/seshat-fuzz-home-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    FUZZ_CHECK(dir != nullptr);
    home = dir;
    setenv("HOME", home.c_str(), 1);
    setenv("SESHAT_HOSTNAME", "fuzzhost", 1);
    session = std::make_unique<session::Session>();
    pristine = copy_tree(command_table(), "", {});
    current = pristine;
    auto problems = check_tree(pristine);
    for (const auto& p : problems) std::fprintf(stderr, "shipped grammar: %s\n", p.c_str());
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture();  // lives for the process
  return *f;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// What libedit's completion callback does with the text before the cursor.
void complete_line(const Node& root, const std::string& before) {
  auto toks = tokenize(before).tokens;
  std::string prefix;
  if (!before.empty() && before.back() != ' ' && !toks.empty()) {
    prefix = toks.back().text;
    toks.pop_back();
  }
  std::vector<std::string> words;
  for (auto& t : toks) words.push_back(t.text);
  for (const auto& o : complete(root, words, prefix)) FUZZ_CHECK(o.size() >= prefix.size());
}

// help_lines on the nodes met walking down from the root, the line's bytes choosing the
// children.
void walk_help(const Node& root, const std::string& line) {
  const Node* n = &root;
  for (unsigned char c : line) {
    (void)help_lines(*n);
    if (n->children.empty()) break;
    n = &n->children[c % n->children.size()];
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Fixture& fx = fixture();
  const uint8_t flags = data[0];
  g_fail = flags & 1;
  const bool interactive = flags & 2;
  const bool argv_mode = flags & 8;

  if (g_pruned) {
    fx.current = fx.pristine;
    g_pruned = false;
  }
  Node& root = fx.current;
  g_root = &root;
  if (flags & 4) {
    g_pruned = true;
    prune_tree(root);
  }

  Context ctx{*fx.session, {}};
  ctx.interactive = interactive;
  std::vector<std::string> lines = split_lines(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));

  if (argv_mode) {
    std::vector<Token> tokens;
    for (auto& l : lines) tokens.push_back({l, 0, false});
    (void)run_tokens(root, tokens, "", ctx);
  } else {
    std::vector<const Node*> pending_path;
    std::vector<std::string> pending_args;
    for (const std::string& line : lines) {
      complete_line(root, line);
      walk_help(root, line);
      TokenizeResult t = tokenize(line);
      if (t.error) {
        FUZZ_CHECK(t.error_column < line.size());
        if (!interactive) break;
        continue;
      }
      for (const Token& tok : t.tokens) FUZZ_CHECK(tok.column < line.size());
      if (!interactive && (t.tokens.empty() || t.tokens[0].text[0] == '#')) continue;
      ParseOutcome o = run_tokens(root, t.tokens, line, ctx, pending_path, pending_args);
      FUZZ_CHECK(o.next_token <= t.tokens.size());
      pending_path.clear();
      pending_args.clear();
      if (o.status == ParseStatus::kExit) break;
      if (o.status == ParseStatus::kIncomplete) {
        FUZZ_CHECK(!o.pending.empty());
        for (const auto& l : help_lines(*o.pending.back())) FUZZ_CHECK(!l.empty());
        if (!interactive) break;
        pending_path = o.pending;
        pending_args = o.pending_args;
      }
      if (o.status == ParseStatus::kFailed && !interactive) break;
    }
  }
  if (g_pruned) {
    // The shipped grammar after GRAMMAR PRUNE: still well-formed, and still printable.
    (void)check_tree(root);
    (void)print_tree(root);
  }
  g_root = nullptr;
  return 0;
}
