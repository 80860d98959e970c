// Splits a command line into tokens: words separated by blanks; "double quoted" text is one
// token (\" and \\ escape inside quotes). Each token keeps its column for error carets.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace seshat::shell {

struct Token {
  std::string text;
  size_t column = 0;  // byte offset in the line
  bool quoted = false;
};

struct TokenizeResult {
  std::vector<Token> tokens;
  std::optional<std::string> error;  // e.g. "unterminated quote"
  size_t error_column = 0;
};

TokenizeResult tokenize(const std::string& line);

}  // namespace seshat::shell
