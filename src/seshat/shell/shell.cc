#include "seshat/shell/shell.h"

#include <dirent.h>
#include <histedit.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "seshat/process/process.h"
#include "seshat/session/session.h"
#include "seshat/session/settings.h"
#include "seshat/shell/commands.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/printable.h"

namespace seshat::shell {
namespace {

constexpr const char* kVersion = SESHAT_VERSION;  // CMake's project version

std::string prompt_for(const std::vector<const Node*>& pending) {
  std::string p = "Seshat";
  for (const Node* n : pending)
    if (!n->keywords.empty()) p += " " + n->keywords.front();
  return p + "> ";
}

// The words a pending command stands for (its keywords and typed arguments), so that TAB
// at a continuation prompt completes what may follow there.
std::vector<std::string> pending_words(const std::vector<const Node*>& path, const std::vector<std::string>& args) {
  std::vector<std::string> words;
  size_t a = 0;
  for (const Node* n : path) {
    if (!n->keywords.empty())
      words.push_back(n->keywords.front());
    else if (a < args.size())
      words.push_back(args[a++]);
  }
  return words;
}

// Completion keeps the user's case: "list b" becomes "list backups".
std::string in_users_case(const std::string& keyword, const std::string& prefix, const std::string& last_word) {
  const std::string& sample = prefix.empty() ? last_word : prefix;
  bool lower = false;
  for (char ch : sample)
    if (std::isalpha(static_cast<unsigned char>(ch))) lower = std::islower(static_cast<unsigned char>(ch)) != 0;
  if (!lower) return keyword;
  std::string s = keyword;
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Directories on this machine whose path starts with `prefix` (BACKUP, RESTORE TARGET).
std::vector<std::string> local_dirs(const std::string& prefix) {
  std::string dir = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/') + 1);
  std::string stem = prefix.substr(dir.size());
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.empty() ? "." : dir.c_str());  // what the user is typing: read, never changed
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || !name.starts_with(stem)) continue;
    if (name[0] == '.' && stem.empty()) continue;
    // Relative to the directory listed; a symlink to a directory is offered as one, as BACKUP
    // and RESTORE TARGET take it. Only looked at, never opened or changed.
    struct stat st {};
    if (::fstatat(::dirfd(d), name.c_str(), &st, 0) != 0 || !S_ISDIR(st.st_mode)) continue;
    out.push_back(dir + name + "/");
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Interactive line editing with libedit.
class LineEditor {
 public:
  // cd_names: the folders CD may enter from the current folder.
  explicit LineEditor(std::function<std::vector<std::string>()> cd_names) : cd_names_(std::move(cd_names)) {
    el_ = el_init("seshat", stdin, stdout, stderr);
    hist_ = history_init();
    history(hist_, &ev_, H_SETSIZE, 1000);
    el_set(el_, EL_HIST, history, hist_);
    el_set(el_, EL_EDITOR, "emacs");
    el_set(el_, EL_PROMPT, &LineEditor::prompt_cb);
    el_set(el_, EL_CLIENTDATA, this);
    el_set(el_, EL_ADDFN, "seshat-complete", "Complete a command word", &LineEditor::complete_cb);
    el_set(el_, EL_BIND, "^I", "seshat-complete", nullptr);
    history_file_ = session::home_dir() + "/.seshat/history";
    history(hist_, &ev_, H_LOAD, history_file_.c_str());
  }
  ~LineEditor() {
    try {
      (void)make_dirs(session::home_dir() + "/.seshat");
      history(hist_, &ev_, H_SAVE, history_file_.c_str());
    } catch (...) {
    }
    history_end(hist_);
    el_end(el_);
  }
  bool read(const std::string& prompt, std::string& line, std::vector<std::string> pending = {}) {
    prompt_ = prompt;
    pending_ = std::move(pending);
    int count = 0;
    const char* l = el_gets(el_, &count);
    if (!l || count <= 0) return false;
    line.assign(l, static_cast<size_t>(count));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) history(hist_, &ev_, H_ENTER, line.c_str());
    return true;
  }

 private:
  static char* prompt_cb(EditLine* el) {
    void* self = nullptr;
    el_get(el, EL_CLIENTDATA, &self);
    return const_cast<char*>(static_cast<LineEditor*>(self)->prompt_.c_str());
  }
  static unsigned char complete_cb(EditLine* el, int) {
    void* self = nullptr;
    el_get(el, EL_CLIENTDATA, &self);
    return static_cast<LineEditor*>(self)->complete_here(el);
  }

  unsigned char complete_here(EditLine* el) {
    const LineInfo* li = el_line(el);
    std::string before(li->buffer, static_cast<size_t>(li->cursor - li->buffer));
    TokenizeResult t = tokenize(before);
    if (t.error) return CC_ERROR;  // inside an open quote: nothing to complete
    auto& toks = t.tokens;
    std::string prefix;
    size_t raw_start = before.size();  // where the word being completed starts in the line
    if (!before.empty() && before.back() != ' ' && !toks.empty()) {
      prefix = toks.back().text;
      raw_start = toks.back().column;
      toks.pop_back();
    }
    std::vector<std::string> words = pending_;
    for (auto& tk : toks) words.push_back(tk.text);
    const std::string last_word = toks.empty() ? std::string() : toks.back().text;
    std::vector<std::string> options;
    bool names = false;  // file or folder names: no blank after a completed directory
    for (auto& o : complete(command_table(), words, prefix)) options.push_back(in_users_case(o, prefix, last_word));
    if (const Node* node = node_after(command_table(), words)) {
      bool cd = node->keywords.size() == 1 && node->keywords[0] == "CD";
      for (const Node& c : node->children) {
        if (c.keywords.empty() && c.arg == ArgType::kDirectory) {
          for (auto& d : local_dirs(prefix)) options.push_back(d);
          names = true;
        }
        if (c.keywords.empty() && c.arg == ArgType::kWord && cd) {
          for (auto& d : cd_names_())
            if (d.starts_with(prefix)) options.push_back(d);
          names = true;
        }
      }
    }
    if (options.empty()) return CC_ERROR;
    if (options.size() == 1) {
      const std::string& full = options[0];
      if (names && full.find_first_of(" \t\"'\\#") != std::string::npos) {
        // A name the tokenizer would split: the word is replaced by the quoted name, whole.
        std::string quoted = "\"";
        for (char ch : full) {
          if (ch == '"' || ch == '\\') quoted.push_back('\\');
          quoted.push_back(ch);
        }
        quoted += "\" ";
        el_deletestr(el, static_cast<int>(before.size() - raw_start));
        el_insertstr(el, quoted.c_str());
        return CC_REDISPLAY;
      }
      std::string rest = full.substr(prefix.size());
      if (!(names && rest.ends_with("/"))) rest += " ";
      el_insertstr(el, rest.c_str());
      return CC_REDISPLAY;
    }
    // The longest common start, then the choices.
    std::string common = options[0];
    for (const auto& o : options) {
      size_t k = 0;
      while (k < common.size() && k < o.size() && common[k] == o[k]) ++k;
      common.resize(k);
    }
    if (common.size() > prefix.size()) {
      el_insertstr(el, common.substr(prefix.size()).c_str());
      return CC_REDISPLAY;
    }
    std::string list = "\n";
    for (auto& o : options) list += printable(o) + "  ";
    std::fprintf(stdout, "%s\n", list.c_str());
    return CC_REDISPLAY;
  }

  std::function<std::vector<std::string>()> cd_names_;
  std::vector<std::string> pending_;
  EditLine* el_;
  History* hist_;
  HistEvent ev_;
  std::string prompt_;
  std::string history_file_;
};

// The interactive shell: prompts that show a pending command, ? and TAB at them. Returns
// true if EXIT ended it (false: end of input).
bool interactive_loop(const Node& root, Context& ctx, session::Session& s) {
  std::vector<const Node*> pending_path;
  std::vector<std::string> pending_args;
  LineEditor editor([&s] { return s.cd_names(); });
  std::string line;
  bool after_help = false;
  while (editor.read(prompt_for(pending_path), line, pending_words(pending_path, pending_args))) {
    TokenizeResult t = tokenize(line);
    if (t.error) {
      std::fprintf(stderr, "  %s\n  %s^\n", line.c_str(), std::string(t.error_column, ' ').c_str());
      log::error("{}", *t.error);
      continue;
    }
    // An empty line at the prompt a ? left cancels that command (it does not run it).
    if (after_help && t.tokens.empty()) {
      after_help = false;
      pending_path.clear();
      pending_args.clear();
      continue;
    }
    ParseOutcome o = run_tokens(root, t.tokens, line, ctx, pending_path, pending_args);
    pending_path.clear();
    pending_args.clear();
    after_help = o.status == ParseStatus::kHelp;
    if (o.status == ParseStatus::kExit) return true;
    if (o.status == ParseStatus::kIncomplete || o.status == ParseStatus::kHelp) {
      pending_path = o.pending;
      pending_args = o.pending_args;
    }
  }
  std::printf("\n");
  return false;
}

// Standard input as a script: one command per line, no prompts; the first failure ends it.
// Returns the exit status (0 also for EXIT).
int script_loop(const Node& root, Context& ctx) {
  std::string line;
  int lineno = 0;
  while (std::getline(std::cin, line)) {
    ++lineno;
    TokenizeResult t = tokenize(line);
    if (t.error) {
      log::error("line {}: {}", lineno, *t.error);
      return 1;
    }
    if (t.tokens.empty() || t.tokens[0].text[0] == '#') continue;
    ParseOutcome o = run_tokens(root, t.tokens, line, ctx);
    if (o.status == ParseStatus::kExit) return 0;
    if (o.status == ParseStatus::kFailed) return 1;
    if (o.status == ParseStatus::kIncomplete) {
      log::error("line {}: incomplete command (add ? to see what may follow)", lineno);
      return 1;
    }
  }
  return 0;
}

}  // namespace

int seshat_main(int argc, char** argv) {
  process::start(argv);
  std::unique_ptr<session::Session> s;
  try {
    s = std::make_unique<session::Session>();
  } catch (const Error& e) {
    log::error("{}", e.what());
    return 1;
  }
  const Node& root = command_table();
  Context ctx{*s, {}, false, false, nullptr};
  ctx.before_command = [&s] { s->refresh(); };
  auto finish = [&](int status) {
    if (status == 0 && s->incomplete()) return 3;
    return status;
  };

  std::vector<Token> arg_tokens;
  for (int i = 1; i < argc; ++i) arg_tokens.push_back({argv[i], 0, false});
  bool interactive = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  ctx.interactive = interactive;
  if (interactive || arg_tokens.empty()) log::info("SESHAT started. Version {}", kVersion);
  if (!arg_tokens.empty()) {
    ParseOutcome o = run_tokens(root, arg_tokens, "", ctx);
    if (o.status == ParseStatus::kExit) return finish(0);
    if (o.status == ParseStatus::kFailed) return 1;
    if (o.status == ParseStatus::kIncomplete) {
      log::error("incomplete command at the end of the arguments (add ? to see what may follow)");
      return 1;
    }
    if (o.status == ParseStatus::kHelp && !interactive) return 0;
  }
  if (interactive) {
    interactive_loop(root, ctx, *s);
    return finish(0);
  }
  return finish(script_loop(root, ctx));
}

}  // namespace seshat::shell
