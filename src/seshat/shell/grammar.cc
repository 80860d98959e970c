#include "seshat/shell/grammar.h"

#include <fmt/format.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "seshat/util/error.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::shell {
namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_help(const std::string& t) { return t == "?" || strcasecmp(t.c_str(), "HELP") == 0; }

std::string node_label(const Node& n) {
  if (n.keywords.empty()) return arg_name(n.arg);
  std::string s;
  for (const auto& k : n.keywords) s += (s.empty() ? "" : " | ") + k;
  return s;
}

struct Match {
  const Node* node = nullptr;
  std::string ambiguous;  // names of the candidates when more than one keyword matched
};

Match find_child(const Node& node, const std::string& token) {
  Match m;
  if (token.empty()) return m;
  std::string up = upper(token);
  std::vector<const Node*> prefixed;
  for (const Node& c : node.children) {
    for (const auto& k : c.keywords) {
      if (k == up) {
        m.node = &c;
        return m;
      }
      if (k.size() > up.size() && k.compare(0, up.size(), up) == 0) {
        if (std::find(prefixed.begin(), prefixed.end(), &c) == prefixed.end()) prefixed.push_back(&c);
      }
    }
  }
  if (prefixed.size() == 1) {
    m.node = prefixed[0];
    return m;
  }
  if (prefixed.size() > 1) {
    for (const Node* p : prefixed) m.ambiguous += (m.ambiguous.empty() ? "" : ", ") + node_label(*p);
    return m;
  }
  for (const Node& c : node.children)
    if (c.keywords.empty() && accepts(c, token)) {
      m.node = &c;
      return m;
    }
  return m;
}

// Help for ? and HELP <command>: on stdout, or with the logs under SET OUTPUT JSON (stdout
// holds JSON alone).
void print_help(const Node& node) {
  FILE* f = log::all_on_stderr() ? stderr : stdout;
  for (const auto& l : help_lines(node)) std::fprintf(f, "%s\n", l.c_str());
  std::fflush(f);
}

bool is_command_name(const Node& root, const std::string& token) {
  std::string up = upper(token);
  for (const Node& c : root.children)
    for (const auto& k : c.keywords)
      if (k == up) return true;
  return false;
}

std::string expected_list(const Node& node) {
  std::string s;
  for (const Node& c : node.children) s += (s.empty() ? "" : ", ") + node_label(c);
  return s;
}

void report(const std::vector<Token>& tokens, const std::string& line, size_t at, const std::string& message) {
  std::string text = line;
  std::vector<size_t> cols;
  if (text.empty()) {
    for (const auto& t : tokens) {
      if (!text.empty()) text.push_back(' ');
      cols.push_back(text.size());
      bool quote = t.text.find(' ') != std::string::npos || t.text.empty();
      text += quote ? "\"" + t.text + "\"" : t.text;
    }
  } else {
    for (const auto& t : tokens) cols.push_back(t.column);
  }
  size_t col = at < cols.size() ? cols[at] : text.size();
  std::fflush(stdout);
  std::fprintf(stderr, "  %s\n  %s^\n", text.c_str(), std::string(col, ' ').c_str());
  log::error("{}", message);
}

int execute(const Node& n, Context& ctx) {
  clear_interrupt();
  set_busy(true);
  struct NotBusy {
    ~NotBusy() { set_busy(false); }
  } not_busy;
  try {
    return n.action(ctx);
  } catch (const Error& e) {
    log::error("{}", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    log::error("out of memory");
    return 1;
  } catch (const std::exception& e) {
    log::error("internal error: {}", e.what());
    return 1;
  }
}

}  // namespace

const char* arg_name(ArgType t) {
  switch (t) {
    case ArgType::kNone:
      return "";
    case ArgType::kInteger:
      return "<Integer>";
    case ArgType::kWord:
      return "<Word>";
    case ArgType::kDirectory:
      return "<Directory>";
    case ArgType::kRegex:
      return "<Regex>";
    case ArgType::kDate:
      return "<Date dd-MMM-yyyy>";
    case ArgType::kTime:
      return "<Time HH:MM[:SS]>";
  }
  return "";
}

bool accepts(const Node& node, const std::string& token) {
  switch (node.arg) {
    case ArgType::kNone:
      return false;
    case ArgType::kInteger:
      return !token.empty() && token.size() < 10 && std::all_of(token.begin(), token.end(), [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch)) != 0;
      });
    case ArgType::kDate:
      return parse_listing(token).has_value();
    case ArgType::kTime: {
      int h, m, s;
      return parse_clock(token, h, m, s).has_value();
    }
    case ArgType::kWord:
    case ArgType::kDirectory:
    case ArgType::kRegex:
      return !token.empty();
  }
  return false;
}

ParseOutcome run_tokens(const Node& root, const std::vector<Token>& tokens, const std::string& line, Context& ctx,
                        std::vector<const Node*> path, std::vector<std::string> args) {
  ParseOutcome out;
  const Node* node = path.empty() ? &root : path.back();
  size_t i = 0;
  auto reset = [&] {
    node = &root;
    path.clear();
    args.clear();
  };
  auto run = [&](const Node& n) -> bool {
    ctx.args = args;
    if (ctx.before_command) ctx.before_command();
    int rc = execute(n, ctx);
    reset();
    if (ctx.exit_requested) {
      out.status = ParseStatus::kExit;
      return false;
    }
    if (rc != 0) {
      out.status = ParseStatus::kFailed;
      return false;
    }
    return true;
  };
  while (i < tokens.size()) {
    const std::string& tok = tokens[i].text;
    if (node != &root && !tokens[i].quoted && is_help(tok)) {
      // What may follow here; nothing runs, and the command goes on from the same point
      // (at the end of a line, an interactive shell stays at this command's prompt).
      print_help(*node);
      ++i;
      if (i == tokens.size()) {
        out.status = ParseStatus::kHelp;
        out.pending = path;
        out.pending_args = args;
        out.next_token = i;
        return out;
      }
      // A word that cannot follow here but starts a command: the partial command is dropped
      // and that one starts ("SHOW ? SHOW CONFIG").
      if (!tokens[i].quoted && (is_command_name(root, tokens[i].text) ||
                                (!find_child(*node, tokens[i].text).node && find_child(root, tokens[i].text).node)))
        reset();
      continue;
    }
    if (node == &root && !tokens[i].quoted && is_help(tok) && i + 1 < tokens.size()) {
      // HELP <command words>: that command's help. It takes the rest of the line and runs
      // nothing; a word it cannot place is an error.
      const Node* n = &root;
      std::string label;
      for (size_t j = i + 1; j < tokens.size(); ++j) {
        Match hm = n->children.empty() ? Match{} : find_child(*n, tokens[j].text);
        if (!hm.node) {
          report(tokens, line, j,
                 n == &root ? fmt::format("HELP: unknown command '{}' (HELP alone lists the commands)", tokens[j].text)
                 : !hm.ambiguous.empty() ? fmt::format("HELP: '{}' is ambiguous after {}: it could be {}",
                                                       tokens[j].text, label, hm.ambiguous)
                                         : fmt::format("HELP: '{}' cannot follow {}", tokens[j].text, label));
          out.status = ParseStatus::kFailed;
          out.next_token = j;
          return out;
        }
        n = hm.node;
        label += (label.empty() ? "" : " ") + node_label(*n);
      }
      std::fprintf(log::all_on_stderr() ? stderr : stdout, "  %s - %s\n", label.c_str(), n->help.c_str());
      print_help(*n);
      i = tokens.size();
      continue;
    }
    Match m = tokens[i].quoted && node == &root ? Match{} : find_child(*node, tok);
    // A command that may end here ends before a word that is a command's full name, rather
    // than taking it as a free argument ("CD EXIT" is CD, then EXIT).
    if (m.node && m.node->keywords.empty() && node != &root && node->action && !tokens[i].quoted &&
        is_command_name(root, tok))
      m = Match{};
    if (!m.ambiguous.empty()) {
      report(tokens, line, i, fmt::format("'{}' is ambiguous here: it could be {}", tok, m.ambiguous));
      out.status = ParseStatus::kFailed;
      out.next_token = i;
      return out;
    }
    if (m.node) {
      path.push_back(m.node);
      if (m.node->keywords.empty()) args.push_back(tok);
      node = m.node;
      ++i;
      if (node->children.empty()) {
        if (!run(*node)) {
          out.next_token = i;
          return out;
        }
      }
      continue;
    }
    if (node == &root) {
      report(tokens, line, i,
             tok.size() > 1 && tok[0] == '-' && !tokens[i].quoted
                 ? fmt::format("'{}' is not an option: the options (--help, --version, --json) come before the "
                               "commands",
                               tok)
                 : fmt::format("unknown command '{}' (HELP lists the commands)", tok));
      out.status = ParseStatus::kFailed;
      out.next_token = i;
      return out;
    }
    // The command so far may end here only if the word starts another command; otherwise it
    // is a mistake in this command, which must not run (a typo after RESTORE must not reset).
    if (node->action && find_child(root, tok).node && !tokens[i].quoted) {
      if (!run(*node)) {
        out.next_token = i;
        return out;
      }
      continue;
    }
    report(tokens, line, i, fmt::format("'{}' is not valid here; expected {}", tok, expected_list(*node)));
    out.status = ParseStatus::kFailed;
    out.next_token = i;
    return out;
  }
  if (node != &root) {
    if (node->action) {
      run(*node);
      out.next_token = i;
      return out;
    }
    out.status = ParseStatus::kIncomplete;
    out.pending = path;
    out.pending_args = args;
  }
  out.next_token = i;
  return out;
}

std::vector<std::string> help_lines(const Node& node) {
  std::vector<std::string> out;
  for (const Node& c : node.children) out.push_back(fmt::format("  {:<28} {}", node_label(c), c.help));
  if (node.action) out.push_back(fmt::format("  {:<28} {}", "(end)", "run the command as it stands"));
  return out;
}

std::vector<std::string> print_tree(const Node& root) {
  std::vector<std::string> out;
  std::function<void(const Node&, int)> rec = [&](const Node& n, int depth) {
    for (const Node& c : n.children) {
      out.push_back(fmt::format("{}{:<{}} - {}", std::string(depth * 2, ' '), node_label(c), 28 - depth * 2, c.help));
      rec(c, depth + 1);
    }
  };
  rec(root, 0);
  return out;
}

std::vector<std::string> check_tree(const Node& root) {
  std::vector<std::string> problems;
  std::function<void(const Node&, const std::string&)> rec = [&](const Node& n, const std::string& where) {
    std::vector<std::string> words;
    int free_args = 0;
    for (const Node& c : n.children) {
      std::string here = where.empty() ? node_label(c) : where + " " + node_label(c);
      if (c.help.empty()) problems.push_back("no help text: " + here);
      if (!c.action && c.children.empty()) problems.push_back("dead end (no action, nothing may follow): " + here);
      if (c.keywords.empty() && c.arg == ArgType::kNone)
        problems.push_back("node with neither keyword nor argument: " + here);
      if (c.keywords.empty() && (c.arg == ArgType::kWord || c.arg == ArgType::kDirectory || c.arg == ArgType::kRegex))
        ++free_args;
      for (const auto& k : c.keywords) {
        if (k != upper(k)) problems.push_back("keyword not in upper case: " + here);
        words.push_back(k);
      }
      rec(c, here);
    }
    if (free_args > 1)
      problems.push_back("more than one free-text argument after: " + (where.empty() ? "(start)" : where));
    std::sort(words.begin(), words.end());
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i] == words[i + 1])
        problems.push_back("duplicate keyword " + words[i] + " after: " + (where.empty() ? "(start)" : where));
      else if (words[i + 1].compare(0, words[i].size(), words[i]) == 0)
        problems.push_back("ambiguous prefix: " + words[i] + " is a prefix of " + words[i + 1] +
                           " after: " + (where.empty() ? "(start)" : where));
    }
  };
  rec(root, "");
  return problems;
}

std::vector<std::string> prune_tree(Node& root) {
  std::vector<std::string> removed;
  std::function<void(Node&, const std::string&)> rec = [&](Node& n, const std::string& where) {
    for (Node& c : n.children) rec(c, where.empty() ? node_label(c) : where + " " + node_label(c));
    std::set<std::string> seen;
    std::vector<Node> keep;
    for (Node& c : n.children) {
      std::string here = where.empty() ? node_label(c) : where + " " + node_label(c);
      if (!c.action && c.children.empty()) {
        removed.push_back("dead end: " + here);
        continue;
      }
      if (!c.keywords.empty()) {
        bool all_seen = true;
        for (const auto& k : c.keywords) all_seen &= seen.count(k) > 0;
        if (all_seen) {
          removed.push_back("duplicate: " + here);
          continue;
        }
        for (const auto& k : c.keywords) seen.insert(k);
      }
      keep.push_back(std::move(c));
    }
    n.children = std::move(keep);
  };
  rec(root, "");
  return removed;
}

const Node* node_after(const Node& root, const std::vector<std::string>& before) {
  // Walk the words the way run_tokens reads them.
  const Node* node = &root;
  for (const auto& w : before) {
    if (node != &root && is_help(w)) continue;  // ? shows help and stays
    Match m = find_child(*node, w);
    if (m.node && m.node->keywords.empty() && node != &root && node->action && is_command_name(root, w)) m = Match{};
    if (!m.node && node != &root && node->action) m = find_child(root, w);  // the command ended; a new one starts
    if (!m.node) return nullptr;
    node = m.node;
    if (node->children.empty()) node = &root;  // a complete command: the next one starts
  }
  return node;
}

std::vector<std::string> complete(const Node& root, const std::vector<std::string>& before, const std::string& prefix) {
  const Node* node = node_after(root, before);
  if (!node) return {};
  std::vector<std::string> out;
  std::string up = upper(prefix);
  for (const Node& c : node->children)
    for (const auto& k : c.keywords)
      if (k.compare(0, up.size(), up) == 0) out.push_back(k);
  return out;
}

}  // namespace seshat::shell
