// Text that is safe to print on a terminal or into a log (STYLE.md: names are data). File
// names may hold any byte but '/' and NUL: ESC, BEL, CR or LF in a name could retitle the
// terminal, clear it, or forge a log line. Every line the program prints goes through
// printable(): the logger and the shell's output do it, so no caller can forget.
//
// Escaped, as `ls --quoting-style=escape` does: control characters (\a \b \t \n \v \f \r,
// others \xNN, ESC is \x1b, DEL \x7f), each byte of invalid UTF-8 (\xNN), and the code points
// that reorder or break lines (C1 controls U+0080-U+009F, U+2028, U+2029, the bidirectional
// overrides and isolates U+202A-U+202E, U+2066-U+2069) as \u{NNNN}. Valid UTF-8 text (accents,
// CJK, emoji) is kept. A backslash is not doubled, so regular expressions and names with
// backslashes read as typed; a name holding the characters "\x1b" therefore prints as one
// holding ESC does, which only a second look (LIST with JSON output) tells apart.
#pragma once
#include <string>
#include <string_view>

namespace seshat {

std::string printable(std::string_view text);

// Whether text is valid UTF-8 (what a JSON string must be).
bool valid_utf8(std::string_view text);

}  // namespace seshat
