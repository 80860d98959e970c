#include "seshat/shell/commands.h"

#include <algorithm>
#include <cstdio>

#include "seshat/session/session.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/printable.h"

namespace seshat::shell {

Node kw(std::vector<std::string> words, std::string help, Action action, std::vector<Node> children) {
  Node n;
  n.keywords = std::move(words);
  n.help = std::move(help);
  n.action = std::move(action);
  n.children = std::move(children);
  return n;
}

Node arg(ArgType type, std::string help, Action action, std::vector<Node> children) {
  Node n;
  n.arg = type;
  n.help = std::move(help);
  n.action = std::move(action);
  n.children = std::move(children);
  return n;
}

Action run(std::function<void(session::Session&)> fn) {
  return [fn](Context& c) {
    fn(c.session);
    return 0;
  };
}

Action run_arg(std::function<void(session::Session&, const std::string&)> fn) {
  return [fn](Context& c) {
    fn(c.session, c.args.at(0));
    return 0;
  };
}

void out(const std::string& line) {
  std::string s = printable(line);  // rows carry file names
  // Under SET OUTPUT JSON stdout holds JSON alone: text a command has no JSON for goes
  // with the logs.
  FILE* f = log::all_on_stderr() ? stderr : stdout;
  std::fwrite(s.data(), 1, s.size(), f);
  std::fputc('\n', f);
}

bool json_output(const Context& c) { return c.session.settings().json; }

std::string join_args(const Context& c) {
  std::string s;
  for (const auto& a : c.args) s += (s.empty() ? "" : " ") + a;
  return s;
}

void require_confirmation(Context& c, const std::string& question, const std::string& expected) {
  if (!c.interactive) {
    if (!c.session.settings().confirm) return;
    throw Error(ErrorKind::kInvalidInput, question + ": refused in batch mode (SET CONFIRM NO allows it)");
  }
  std::fprintf(stdout, "%s\nType %s to go on: ", question.c_str(), expected.c_str());
  std::fflush(stdout);
  std::string answer;
  if (FILE* tty = std::fopen("/dev/tty", "r")) {
    char buf[1024];
    if (std::fgets(buf, sizeof buf, tty)) answer = buf;
    std::fclose(tty);
  }
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  if (answer != expected) throw Error(ErrorKind::kInvalidInput, "not confirmed; nothing was changed");
}

const Node& command_table() {
  static const Node root = [] {
    Node r;
    r.help = "Seshat";
    for (auto* family : {backup_commands, db_commands, list_commands, select_commands, restore_commands,
                         settings_commands, meta_commands})
      for (Node& n : family()) r.children.push_back(std::move(n));
    // The order HELP and GRAMMAR PRINT show (the manual's, with the newer commands after).
    static const char* const kOrder[] = {"AUTOMATIC", "BACKUP",  "BYE",        "CD",   "DB",       "EXCLUDE", "GRAMMAR",
                                         "HELP",      "INCLUDE", "INITIALIZE", "LIST", "MEMSTATS", "RESTORE", "RESET",
                                         "SEARCH",    "SELECT",  "SET",        "S3",   "VERIFY",   "SHOW",    "STORE"};
    auto rank = [](const Node& n) {
      auto it = std::find(std::begin(kOrder), std::end(kOrder), n.keywords.front());
      return it - std::begin(kOrder);
    };
    std::stable_sort(r.children.begin(), r.children.end(),
                     [&](const Node& a, const Node& b) { return rank(a) < rank(b); });
    return r;
  }();
  return root;
}

}  // namespace seshat::shell
