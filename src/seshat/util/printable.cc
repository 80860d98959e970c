#include "seshat/util/printable.h"

#include <fmt/format.h>

#include <cstdint>

namespace seshat {
namespace {

bool plain(unsigned char c) { return c >= 0x20 && c < 0x7f; }

// The length of the valid UTF-8 sequence at s[i] (2-4), with its code point; 0 if invalid.
size_t utf8_sequence(std::string_view s, size_t i, uint32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t n;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, cp = c & 0x1f, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, cp = c & 0x0f, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;  // overlong, too big, surrogate
  return n;
}

bool reorders_or_breaks(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

void escape_control(unsigned char c, std::string& out) {
  switch (c) {
    case '\a':
      out += "\\a";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\v':
      out += "\\v";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    default:
      out += fmt::format("\\x{:02x}", c);
  }
}

}  // namespace

std::string printable(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && plain(static_cast<unsigned char>(text[i]))) ++i;
  if (i == text.size()) return std::string(text);  // the common case: nothing to escape
  std::string out(text.substr(0, i));
  out.reserve(text.size() + 16);
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (plain(c)) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x80) {
      escape_control(c, out);
      ++i;
    } else if (uint32_t cp; size_t n = utf8_sequence(text, i, cp)) {
      if (reorders_or_breaks(cp))
        out += fmt::format("\\u{{{:04x}}}", cp);
      else
        out.append(text.substr(i, n));
      i += n;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

bool valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    size_t n = utf8_sequence(text, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace seshat
