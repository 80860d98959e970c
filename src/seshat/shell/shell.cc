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
#include <nlohmann/json.hpp>
#include <string>

#include "seshat/process/process.h"
#include "seshat/session/session.h"
#include "seshat/session/settings.h"
#include "seshat/shell/commands.h"
#include "seshat/shell/docgen.h"
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
    bool names = false;  // file or folder names: no blank after a completed directory
    std::vector<std::string> options = completion_candidates(command_table(), words, prefix, cd_names_, &names);
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

// The options before the commands (nothing here needs the settings or the store). Returns
// the exit status when an option ends the program, else -1 with `first` at the first command.
int options(int argc, char** argv, int& first, bool& json) {
  for (; first < argc && argv[first][0] == '-' && argv[first][1] != '\0'; ++first) {
    std::string opt = argv[first];
    if (opt == "-h" || opt == "--help") {
      std::fputs(usage_text().c_str(), stdout);
      return 0;
    }
    if (opt == "--version") {
      std::printf("seshat %s\n", kVersion);
      return 0;
    }
    if (opt == "--json") {
      json = true;
      continue;
    }
    if (opt == "--man") {  // the build makes seshat.1 with it
      std::fputs(man_page(command_table(), kVersion).c_str(), stdout);
      return 0;
    }
    if (opt == "--completion") {  // the build makes the completion scripts with it
      std::string script = first + 1 < argc ? completion_script(argv[first + 1]) : std::string();
      if (script.empty()) {
        log::error("--completion takes bash, zsh or fish");
        return 1;
      }
      std::fputs(script.c_str(), stdout);
      return 0;
    }
    if (opt == "--complete") {  // what the completion scripts ask: --complete <word being typed> <words before>
      std::string prefix = first + 1 < argc ? argv[first + 1] : "";
      std::vector<std::string> before;
      for (int i = first + 2; i < argc; ++i) before.push_back(argv[i]);
      // Raw names (a completed name must be the real one); one per line, so not one with a
      // line break.
      for (const auto& c : completion_candidates(command_table(), before, prefix, nullptr))
        if (c.find('\n') == std::string::npos) std::printf("%s\n", c.c_str());
      return 0;
    }
    log::error("unknown option '{}' (seshat --help shows the options; commands are words, HELP lists them)",
               printable(opt));
    return 1;
  }
  return -1;
}

}  // namespace

int seshat_main(int argc, char** argv) {
  process::start(argv);
  int first = 1;
  bool json = false;
  if (int status = options(argc, argv, first, json); status >= 0) return status;
  std::unique_ptr<session::Session> s;
  try {
    s = std::make_unique<session::Session>();
  } catch (const Error& e) {
    log::error("{}", e.what());
    return 1;
  }
  const Node& root = command_table();
  Context ctx{*s, {}, false, false, nullptr};
  if (json) s->set("output", "json");
  ctx.before_command = [&s] { s->refresh(); };
  auto finish = [&](int status) {
    if (status == 0 && s->incomplete()) return 3;
    return status;
  };

  std::vector<Token> arg_tokens;
  for (int i = first; i < argc; ++i) arg_tokens.push_back({argv[i], 0, false});
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
