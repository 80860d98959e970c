#include "seshat/shell/docgen.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "seshat/session/settings.h"
#include "seshat/util/env.h"

namespace seshat::shell {
namespace {

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

// Text for roff: backslashes escaped, a leading dot or quote made literal, dashes as \-.
std::string roff(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '\\')
      o += "\\e";
    else if (ch == '-')
      o += "\\-";
    else
      o += ch;
  }
  if (!o.empty() && (o[0] == '.' || o[0] == '\'')) o = "\\&" + o;
  return o;
}

std::string label(const Node& n) {
  if (n.keywords.empty()) return arg_name(n.arg);
  std::string s;
  for (const auto& k : n.keywords) s += (s.empty() ? "" : " | ") + k;
  return s;
}

void man_nodes(const Node& n, std::string& out) {
  for (const Node& c : n.children) {
    out += ".TP\n";
    out += c.keywords.empty() ? ".I " + roff(label(c)) + "\n" : ".B " + roff(label(c)) + "\n";
    out += roff(c.help) + (c.action && !c.children.empty() ? " (may end here)" : "") + "\n";
    if (!c.children.empty()) {
      out += ".RS\n";
      man_nodes(c, out);
      out += ".RE\n";
    }
  }
}

constexpr const char* kManIntro = R"(.SH DESCRIPTION
Seshat backs folders up, incrementally and encrypted, into a store: a local directory (the
default, \fI~/.seshat/store\fR) or an Amazon S3 or S3\-compatible bucket. All of its state
lives in the store: a new machine with the passphrase and the store restores everything.
Changed files are packed into large container objects, each file compressed and encrypted on
its own; an encrypted catalog (the DB) records every version of every file.
.PP
Commands are words. On the command line several commands may follow each other, and run in
order until one fails (\fBseshat STORE LOCAL /srv/b BACKUP /home EXIT\fR). Without arguments
on a terminal, Seshat is an interactive shell with the prompt \fBSeshat>\fR, line editing,
history, \fB?\fR after any word to see what may follow and TAB to complete. When standard
input is not a terminal, it reads one command per line from it; the first failure ends it.
Keywords may be abbreviated to any unambiguous prefix and are not case sensitive.
.SH OPTIONS
Options come before the commands; any other word starting with \fB\-\fR there is an error.
.TP
.BR \-h ", " \-\-help
Print a short usage and exit 0.
.TP
.B \-\-version
Print \fBseshat\fR and the version, and exit 0.
.TP
.B \-\-json
The same as \fBSET OUTPUT JSON\fR as the first command: results as JSON on standard output,
log lines on standard error.
)";

constexpr const char* kManTail = R"(.SH FILES
.TP
.I ~/.seshatrc
The remembered settings.
.TP
.I ~/.seshat/store
The default local store.
.TP
.I ~/.seshat/history
The interactive shell's history.
.TP
.I /etc/seshat/automatic.env
The environment of the \fBseshat\-automatic.service\fR unit (SESHAT_PASSWORD_FILE and the like).
.SH EXIT STATUS
.TP
.B 0
Every command succeeded.
.TP
.B 1
A command failed (a bad command, a wrong passphrase, an unreachable store, a locked DB, a
restore that kept files that differ); the error line says why. Nothing after it ran.
.TP
.B 3
Every command ran, but some files could not be backed up or restored faithfully (unreadable,
or metadata the target refused); each is named in a WARN line.
.SH EXAMPLES
.nf
seshat BACKUP /home EXIT
seshat AUTOMATIC ADD /etc AUTOMATIC EXIT
seshat LIST BACKUPS EXIT
seshat SELECT BACKUP 2 RESTORE ADD TREE RESTORE TARGET /tmp/r RESTORE GO EXIT
seshat \-\-json LIST BACKUPS EXIT | jq .
.fi
.SH SEE ALSO
.BR restic (1),
.BR borg (1),
.BR systemd.timer (5);
/usr/share/doc/seshat/ for the store formats.
)";

}  // namespace

std::string usage_text() {
  return R"(Usage: seshat [--json] [COMMAND ...]
       seshat --help | --version

Seshat backs folders up, incrementally and encrypted, into a local directory or S3. Commands
are words, given on the command line (several may follow each other) or typed at the
interactive shell (seshat alone, on a terminal); from a pipe, one command per line.

Most used:
  seshat BACKUP /home EXIT                 back up a folder (the store is ~/.seshat/store)
  seshat STORE LOCAL /srv/backup EXIT      use another local store (remembered)
  seshat S3 BUCKET b S3 REGION r EXIT      use an S3 bucket (remembered)
  seshat AUTOMATIC EXIT                    back up every registered folder (cron, systemd)
  seshat LIST BACKUPS EXIT                 what backups there are
  seshat SEARCH <regex> EXIT               find files in the backups
  seshat RESTORE ADD TREE RESTORE TARGET /tmp/r RESTORE GO EXIT
  seshat VERIFY DATA EXIT                  download and authenticate the stored data
  seshat SHOW CONFIG EXIT                  the settings

Options (before the commands):
  -h, --help       this text
  --version        print the version
  --json           SET OUTPUT JSON: results as JSON on stdout, logs on stderr

HELP lists every command, HELP <command> explains one, ? after any word shows what may
follow, TAB completes. The passphrase comes from the first of SESHAT_PASSWORD,
SESHAT_PASSWORD_FILE and SESHAT_PASSWORD_COMMAND that is set, else the terminal. Exit status: 0 success, 1 a command failed, 3 some
files could not be backed up or restored faithfully (each named in a WARN). man seshat has it
all.
)";
}

std::string man_page(const Node& root, const std::string& version) {
  std::string m;
  m += ".TH SESHAT 1 \"\" \"seshat " + roff(version) + "\" \"User Commands\"\n";
  m += ".ad l\n.nh\n";
  m += ".SH NAME\nseshat \\- incremental, encrypted backups to a local directory or Amazon S3\n";
  m += ".SH SYNOPSIS\n.B seshat\n[\\fB\\-\\-json\\fR] [\\fICOMMAND\\fR ...]\n.br\n.B seshat\n"
       "\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR\n";
  m += kManIntro;
  m += ".SH COMMANDS\nEvery command, with what may follow it. \\fI<Integer>\\fR, \\fI<Word>\\fR, "
       "\\fI<Directory>\\fR, \\fI<Regex>\\fR, \\fI<Date>\\fR and \\fI<Time>\\fR are typed arguments; a word "
       "with blanks is given in double quotes.\n";
  man_nodes(root, m);
  m += ".SH SETTINGS\nSettings are changed with \\fBSET\\fR, \\fBSTORE\\fR, \\fBS3\\fR, \\fBEXCLUDE\\fR and "
       "\\fBINCLUDE\\fR, and shown by \\fBSHOW CONFIG\\fR. Those remembered are saved in \\fI~/.seshatrc\\fR "
       "(JSON, mode 0600, never a secret); the others last for the run.\n";
  for (const auto& d : session::setting_table()) {
    if (!d.label) continue;
    m += ".TP\n.B " + roff(d.label) + "\n" + (d.remembered ? "Remembered" : "This run only") + " (key \\fB" +
         roff(d.key) + "\\fR).\n";
  }
  m += ".SH ENVIRONMENT\n";
  for (const env::Var* v : env::all()) {
    if (v->audience == env::Audience::kTestHook) continue;
    m += ".TP\n.B " + roff(v->name) + "\n" + roff(v->help) + "\n";
  }
  m += kManTail;
  return m;
}

std::string completion_script(const std::string& shell) {
  if (shell == "bash")
    return R"(# bash completion for seshat (made by seshat --completion bash). It asks the seshat being
# completed for the candidates, so it always follows that binary's commands.
_seshat() {
  local cur words cword line
  if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
    _get_comp_words_by_ref -n =: cur words cword   # times (12:30) and names with = or : stay whole
  else
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur=${COMP_WORDS[COMP_CWORD]}
  fi
  # What was typed, quoted or escaped, as the name it stands for.
  case $cur in
    \"*) cur=${cur#\"} ;;
    \'*) cur=${cur#\'} ;;
    *\\*) cur=$(printf '%s' "$cur" | sed 's/\\\(.\)/\1/g') ;;
  esac
  COMPREPLY=()
  while IFS= read -r line; do COMPREPLY+=("$line"); done \
    < <("${words[0]}" --complete "$cur" "${words[@]:1:cword-1}" 2>/dev/null)
  if [[ ${COMPREPLY[0]-} == */* ]]; then
    compopt -o filenames 2>/dev/null                # names are quoted as the shell needs
    [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]] && compopt -o nospace 2>/dev/null
  fi
  declare -F __ltrim_colon_completions >/dev/null 2>&1 && __ltrim_colon_completions "$cur"
  return 0
}
complete -F _seshat seshat
)";
  if (shell == "zsh")
    return R"(#compdef seshat
# zsh completion for seshat (made by seshat --completion zsh); asks seshat --complete.
_seshat() {
  local -a kw dirs
  local line
  for line in "${(@f)$("${words[1]}" --complete "${(Q)words[CURRENT]}" "${(@Q)words[2,CURRENT-1]}" 2>/dev/null)}"; do
    [[ -z $line ]] && continue
    if [[ $line == */ ]]; then dirs+=("$line"); else kw+=("$line"); fi
  done
  (( ${#kw} )) && compadd -- "${kw[@]}"
  (( ${#dirs} )) && compadd -S '' -- "${dirs[@]}"
  return 0
}
_seshat "$@"
)";
  if (shell == "fish")
    return R"(# fish completion for seshat (made by seshat --completion fish); asks seshat --complete.
function __seshat_complete
    set -l words (commandline -opc)  # already unescaped
    $words[1] --complete (commandline -ct | string unescape) $words[2..-1] 2>/dev/null
end
complete -c seshat -f -a '(__seshat_complete)'
)";
  return {};
}

std::vector<std::string> completion_candidates(const Node& root, const std::vector<std::string>& before,
                                               const std::string& prefix,
                                               const std::function<std::vector<std::string>()>& cd_names, bool* names) {
  // The options before the commands (--json) are not command words.
  size_t first = 0;
  while (first < before.size() && before[first].size() > 1 && before[first][0] == '-') ++first;
  if (first > 0) {
    std::vector<std::string> words(before.begin() + static_cast<std::ptrdiff_t>(first), before.end());
    return completion_candidates(root, words, prefix, cd_names, names);
  }
  const std::string last_word = before.empty() ? std::string() : before.back();
  std::vector<std::string> options;
  bool are_names = false;
  for (auto& o : complete(root, before, prefix)) options.push_back(in_users_case(o, prefix, last_word));
  if (const Node* node = node_after(root, before)) {
    bool cd = node->keywords.size() == 1 && node->keywords[0] == "CD";
    for (const Node& c : node->children) {
      if (c.keywords.empty() && c.arg == ArgType::kDirectory) {
        for (auto& d : local_dirs(prefix)) options.push_back(d);
        are_names = true;
      }
      if (c.keywords.empty() && c.arg == ArgType::kWord && cd && cd_names) {
        for (auto& d : cd_names())
          if (d.starts_with(prefix)) options.push_back(d);
        are_names = true;
      }
    }
  }
  if (names) *names = are_names;
  return options;
}

}  // namespace seshat::shell
