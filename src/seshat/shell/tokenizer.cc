#include "seshat/shell/tokenizer.h"

namespace seshat::shell {

TokenizeResult tokenize(const std::string& line) {
  TokenizeResult r;
  size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
      continue;
    }
    Token t;
    t.column = i;
    if (c == '"') {
      t.quoted = true;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char d = line[i++];
        if (d == '\\' && i < line.size() && (line[i] == '"' || line[i] == '\\')) {
          t.text.push_back(line[i++]);
        } else if (d == '"') {
          closed = true;
          break;
        } else {
          t.text.push_back(d);
        }
      }
      if (!closed) {
        r.error = "unterminated quote";
        r.error_column = t.column;
        return r;
      }
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
        t.text.push_back(line[i++]);
    }
    r.tokens.push_back(std::move(t));
  }
  return r;
}

}  // namespace seshat::shell
