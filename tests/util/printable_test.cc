#include "seshat/util/printable.h"

#include <gtest/gtest.h>

namespace seshat {
namespace {

TEST(Printable, PlainTextAndValidUtf8AreKept) {
  EXPECT_EQ(printable("report 2026.pdf"), "report 2026.pdf");
  EXPECT_EQ(printable("Jürgen/日本語/🙂"), "Jürgen/日本語/🙂");
  EXPECT_EQ(printable(R"(C:\dir\x1b)"), R"(C:\dir\x1b)");  // a backslash is not doubled
  EXPECT_EQ(printable(""), "");
}

TEST(Printable, ControlCharactersAreEscaped) {
  EXPECT_EQ(printable("a\x1b]0;pwned\x07"
                      "b"),
            "a\\x1b]0;pwned\\ab");
  EXPECT_EQ(printable("line\nINFO - forged\r"), "line\\nINFO - forged\\r");
  EXPECT_EQ(printable("t\tv\vf\fb\bz\x01\x7f"), "t\\tv\\vf\\fb\\bz\\x01\\x7f");
}

TEST(Printable, InvalidUtf8IsEscapedByteByByte) {
  EXPECT_EQ(printable("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(printable("\xc3"), "\\xc3");                             // cut short
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
}

TEST(Printable, CodePointsThatReorderOrBreakLinesAreEscaped) {
  EXPECT_EQ(printable("\xc2\x9b"
                      "31m"),
            "\\u{009b}31m");  // C1 CSI
  EXPECT_EQ(printable("evil\xe2\x80\xae"
                      "fdp.exe"),
            "evil\\u{202e}fdp.exe");  // right-to-left override
  EXPECT_EQ(printable("a\xe2\x80\xa8"
                      "b"),
            "a\\u{2028}b");  // line separator
  EXPECT_EQ(printable("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u{2066}x\\u{2069}");
}

}  // namespace
}  // namespace seshat
