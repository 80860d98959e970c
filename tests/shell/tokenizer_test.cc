#include "seshat/shell/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seshat::shell {
namespace {

std::vector<std::string> texts(const TokenizeResult& r) {
  std::vector<std::string> out;
  for (const auto& t : r.tokens) out.push_back(t.text);
  return out;
}

TEST(Tokenizer, Words) {
  auto r = tokenize("list backups 5");
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(texts(r), (std::vector<std::string>{"list", "backups", "5"}));
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[0].column, 0u);
  EXPECT_EQ(r.tokens[1].column, 5u);
  EXPECT_EQ(r.tokens[2].column, 13u);
  for (const auto& t : r.tokens) EXPECT_FALSE(t.quoted);
}

TEST(Tokenizer, BlanksOfEveryKind) {
  auto r = tokenize("  a\t\tbc \r\n d  ");
  EXPECT_EQ(texts(r), (std::vector<std::string>{"a", "bc", "d"}));
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[0].column, 2u);
  EXPECT_EQ(r.tokens[1].column, 5u);
  EXPECT_EQ(r.tokens[2].column, 11u);
}

TEST(Tokenizer, EmptyAndBlankLines) {
  EXPECT_TRUE(tokenize("").tokens.empty());
  EXPECT_FALSE(tokenize("").error.has_value());
  EXPECT_TRUE(tokenize(" \t ").tokens.empty());
  EXPECT_FALSE(tokenize(" \t ").error.has_value());
}

TEST(Tokenizer, QuotedStringWithSpaces) {
  auto r = tokenize("backup \"/home/my dir/x y\" now");
  EXPECT_FALSE(r.error.has_value());
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[1].text, "/home/my dir/x y");
  EXPECT_TRUE(r.tokens[1].quoted);
  EXPECT_EQ(r.tokens[1].column, 7u);
  EXPECT_EQ(r.tokens[2].text, "now");
  EXPECT_FALSE(r.tokens[2].quoted);
}

TEST(Tokenizer, EscapesInsideQuotes) {
  auto r = tokenize(R"(x "say \"hi\" to C:\\dir" y)");
  EXPECT_FALSE(r.error.has_value());
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[1].text, R"(say "hi" to C:\dir)");
  // A backslash before anything else stays as it is.
  auto s = tokenize(R"("a\nb\.iso$")");
  ASSERT_EQ(s.tokens.size(), 1u);
  EXPECT_EQ(s.tokens[0].text, R"(a\nb\.iso$)");
  // Outside quotes backslashes are ordinary characters.
  auto u = tokenize(R"(exclude \.iso$)");
  ASSERT_EQ(u.tokens.size(), 2u);
  EXPECT_EQ(u.tokens[1].text, R"(\.iso$)");
}

TEST(Tokenizer, EmptyQuotedString) {
  auto r = tokenize("a \"\" b");
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[1].text, "");
  EXPECT_TRUE(r.tokens[1].quoted);
  EXPECT_EQ(r.tokens[2].column, 5u);
}

TEST(Tokenizer, UnterminatedQuoteReportsItsColumn) {
  auto r = tokenize("list \"abc def");
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(*r.error, "unterminated quote");
  EXPECT_EQ(r.error_column, 5u);

  auto e = tokenize("a b   \"escaped at end\\\"");
  ASSERT_TRUE(e.error.has_value());
  EXPECT_EQ(e.error_column, 6u);

  auto only = tokenize("\"");
  ASSERT_TRUE(only.error.has_value());
  EXPECT_EQ(only.error_column, 0u);
}

TEST(Tokenizer, TrailingBackslashInQuotes) {
  auto r = tokenize("\"abc\\");
  ASSERT_TRUE(r.error.has_value());  // the quote is never closed
  EXPECT_EQ(r.error_column, 0u);
}

}  // namespace
}  // namespace seshat::shell
