// What is made from the command table besides parsing: the command-line options (--help,
// --version), the man page, the shell completion scripts and the candidates they ask for
// (`seshat --complete`). One table, so the page and the completions can never drift from
// what the parser accepts.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "seshat/shell/grammar.h"

namespace seshat::shell {

// `seshat --help`: how commands are given, the most used ones, where HELP is.
std::string usage_text();

// seshat.1 in roff (man(7) macros): every command and argument with its help, the
// settings, the environment variables, files and exit status.
std::string man_page(const Node& root, const std::string& version);

// The completion script for "bash", "zsh" or "fish"; empty for any other shell. Each asks
// the seshat it completes for (`seshat --complete`), so it follows that binary's grammar.
std::string completion_script(const std::string& shell);

// What may complete `prefix` after the words in `before`: keywords in the user's case,
// directories where a <Directory> may follow, and the folders of `cd_names` after CD.
// `names` is set when the candidates are file or folder names (no blank after a '/').
std::vector<std::string> completion_candidates(const Node& root, const std::vector<std::string>& before,
                                               const std::string& prefix,
                                               const std::function<std::vector<std::string>()>& cd_names,
                                               bool* names = nullptr);

}  // namespace seshat::shell
