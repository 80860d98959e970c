#include "seshat/shell/grammar.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../test_support.h"
#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/shell/tokenizer.h"
#include "seshat/util/error.h"

namespace seshat::shell {
namespace {

using testing_support::TempDir;

// Counts every action run and the arguments it saw.
struct Recorder {
  std::map<std::string, int> runs;
  std::vector<std::pair<std::string, std::vector<std::string>>> calls;
  Action act(const std::string& name, int rc = 0) {
    return [this, name, rc](Context& c) {
      ++runs[name];
      calls.emplace_back(name, c.args);
      return rc;
    };
  }
};

// A session whose settings live in a temporary $HOME.
class ShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* h = std::getenv("HOME")) old_home_ = h;
    ::setenv("HOME", home_.path().c_str(), 1);
    ::setenv("SESHAT_HOSTNAME", "testhost", 1);
    session_ = std::make_unique<session::Session>();
    ctx_ = std::make_unique<Context>(Context{*session_, {}, false, false, nullptr});
    root_ = make_table();
  }
  void TearDown() override {
    ctx_.reset();
    session_.reset();
    if (old_home_.empty())
      ::unsetenv("HOME");
    else
      ::setenv("HOME", old_home_.c_str(), 1);
  }

  Node make_table() {
    Node root;
    root.help = "test";
    auto kinds = [this](const std::string& prefix) {
      return std::vector<Node>{kw({"BACKUPS"}, "backups", rec.act(prefix + "backups")),
                               kw({"BACKLOG"}, "backlog", rec.act(prefix + "backlog")),
                               kw({"HOSTS", "MACHINES"}, "hosts", rec.act(prefix + "hosts"))};
    };
    auto list_children = kinds("list ");
    list_children.push_back(arg(ArgType::kInteger, "limit", nullptr, kinds("list n ")));
    root.children = {
        kw({"LIST"}, "list things", nullptr, list_children),
        kw({"SET"}, "settings", nullptr,
           {kw({"MAX"}, "max", nullptr,
               {arg(ArgType::kInteger, "size", nullptr,
                    {kw({"MB"}, "megabytes", rec.act("set max mb")),
                     kw({"GB"}, "gigabytes", rec.act("set max gb"))})})}),
        kw({"SHOW"}, "show", rec.act("show"), {kw({"CONFIG"}, "config", rec.act("show config"))}),
        kw({"ECHO"}, "echo", nullptr, {arg(ArgType::kWord, "word", rec.act("echo"))}),
        kw({"NUM"}, "typed arguments", nullptr,
           {kw({"ALL"}, "all", rec.act("num all")), arg(ArgType::kInteger, "n", rec.act("num int")),
            arg(ArgType::kWord, "w", rec.act("num word"))}),
        kw({"WHEN"}, "dates", nullptr,
           {arg(ArgType::kDate, "date", rec.act("when date"),
                {arg(ArgType::kTime, "time", rec.act("when date time"))})}),
        kw({"CD"}, "change directory", rec.act("cd"), {arg(ArgType::kWord, "where", rec.act("cd word"))}),
        kw({"FAIL"}, "fails", rec.act("fail", 1)),
        kw({"THROW"}, "throws",
           [this](Context&) -> int {
             ++rec.runs["throw"];
             throw Error(ErrorKind::kInvalidInput, "thrown on purpose");
           }),
        kw({"CRASH"}, "throws a standard exception",
           [this](Context&) -> int {
             ++rec.runs["crash"];
             throw std::runtime_error("not a seshat error");
           }),
        kw({"QUIT", "BYE"}, "leave",
           [this](Context& c) {
             ++rec.runs["quit"];
             c.exit_requested = true;
             return 0;
           }),
    };
    return root;
  }

  // Runs a line; stdout/stderr (help text, error carets) are captured and kept.
  ParseOutcome run(const std::string& line, std::vector<const Node*> path = {}, std::vector<std::string> args = {}) {
    auto t = tokenize(line);
    EXPECT_FALSE(t.error.has_value()) << line;
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    ParseOutcome o = run_tokens(root_, t.tokens, line, *ctx_, std::move(path), std::move(args));
    out_ = ::testing::internal::GetCapturedStdout();
    err_ = ::testing::internal::GetCapturedStderr();
    return o;
  }

  int runs(const std::string& name) { return rec.runs.count(name) ? rec.runs[name] : 0; }
  int total_runs() {
    int n = 0;
    for (auto& [k, v] : rec.runs) n += v;
    return n;
  }

  TempDir home_;
  std::string old_home_;
  std::unique_ptr<session::Session> session_;
  std::unique_ptr<Context> ctx_;
  Recorder rec;
  Node root_;
  std::string out_, err_;
};

TEST_F(ShellTest, HandMadeTableIsClean) { EXPECT_TRUE(check_tree(root_).empty()); }

TEST_F(ShellTest, ExactKeywords) {
  auto o = run("LIST BACKUPS");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(runs("list backups"), 1);
  EXPECT_EQ(total_runs(), 1);
  EXPECT_EQ(o.next_token, 2u);
}

TEST_F(ShellTest, CaseInsensitiveUnambiguousPrefixes) {
  EXPECT_EQ(run("lis backu").status, ParseStatus::kOk);
  EXPECT_EQ(runs("list backups"), 1);
  EXPECT_EQ(run("l backl").status, ParseStatus::kOk);
  EXPECT_EQ(runs("list backlog"), 1);
  EXPECT_EQ(run("LiSt H").status, ParseStatus::kOk);
  EXPECT_EQ(runs("list hosts"), 1);
  EXPECT_EQ(run("list mach").status, ParseStatus::kOk);  // a synonym
  EXPECT_EQ(runs("list hosts"), 2);
  EXPECT_EQ(run("sh conf").status, ParseStatus::kOk);
  EXPECT_EQ(runs("show config"), 1);
  EXPECT_EQ(total_runs(), 5);
}

TEST_F(ShellTest, AmbiguousPrefixFails) {
  auto o = run("lis back");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(o.next_token, 1u);
  EXPECT_EQ(total_runs(), 0);
  EXPECT_NE(err_.find("ambiguous"), std::string::npos) << err_;
  // "S" could be SET or SHOW.
  o = run("s max 5 mb");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(o.next_token, 0u);
  EXPECT_EQ(total_runs(), 0);
}

TEST_F(ShellTest, SynonymsOfOneNodeAreNotAmbiguous) {
  // HOSTS and MACHINES belong to one node; QUIT and BYE too. A prefix matching one synonym is fine.
  EXPECT_EQ(run("list ho").status, ParseStatus::kOk);
  EXPECT_EQ(run("by").status, ParseStatus::kExit);
}

TEST_F(ShellTest, ChainedCommandsInOneLine) {
  auto o = run("list hosts list backups show config echo hi set max 5 mb");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.next_token, 12u);
  EXPECT_EQ(runs("list hosts"), 1);
  EXPECT_EQ(runs("list backups"), 1);
  EXPECT_EQ(runs("show config"), 1);
  EXPECT_EQ(runs("echo"), 1);
  EXPECT_EQ(runs("set max mb"), 1);
  EXPECT_EQ(runs("show"), 0);
  ASSERT_EQ(rec.calls.size(), 5u);
  EXPECT_EQ(rec.calls[0].first, "list hosts");
  EXPECT_EQ(rec.calls[3].first, "echo");
  EXPECT_EQ(rec.calls[3].second, std::vector<std::string>{"hi"});
  EXPECT_EQ(rec.calls[4].second, std::vector<std::string>{"5"});
}

TEST_F(ShellTest, ArgumentsDoNotLeakBetweenCommands) {
  EXPECT_EQ(run("echo a echo b list 3 hosts list hosts").status, ParseStatus::kOk);
  ASSERT_EQ(rec.calls.size(), 4u);
  EXPECT_EQ(rec.calls[0].second, std::vector<std::string>{"a"});
  EXPECT_EQ(rec.calls[1].second, std::vector<std::string>{"b"});
  EXPECT_EQ(rec.calls[2].first, "list n hosts");
  EXPECT_EQ(rec.calls[2].second, std::vector<std::string>{"3"});
  EXPECT_EQ(rec.calls[3].first, "list hosts");
  EXPECT_TRUE(rec.calls[3].second.empty());
}

TEST_F(ShellTest, ANodeWithActionAndChildrenRunsWhenTheNextWordIsNotAChild) {
  auto o = run("show list hosts");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_EQ(rec.calls[0].first, "show");
  EXPECT_EQ(rec.calls[1].first, "list hosts");
  // At the end of the line too.
  EXPECT_EQ(run("show").status, ParseStatus::kOk);
  EXPECT_EQ(runs("show"), 2);
}

TEST_F(ShellTest, IncompleteCommandReturnsThePendingPath) {
  auto o = run("set max 5");
  EXPECT_EQ(o.status, ParseStatus::kIncomplete);
  EXPECT_EQ(total_runs(), 0);
  ASSERT_EQ(o.pending.size(), 3u);
  EXPECT_EQ(o.pending[0]->keywords, std::vector<std::string>{"SET"});
  EXPECT_EQ(o.pending[1]->keywords, std::vector<std::string>{"MAX"});
  EXPECT_EQ(o.pending[2]->arg, ArgType::kInteger);
  EXPECT_EQ(o.pending_args, std::vector<std::string>{"5"});
  EXPECT_EQ(o.next_token, 3u);

  // The next line continues the command.
  auto c = run("gb list hosts", o.pending, o.pending_args);
  EXPECT_EQ(c.status, ParseStatus::kOk);
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_EQ(rec.calls[0].first, "set max gb");
  EXPECT_EQ(rec.calls[0].second, std::vector<std::string>{"5"});
  EXPECT_EQ(rec.calls[1].first, "list hosts");
}

TEST_F(ShellTest, IncompleteAfterOneWord) {
  auto o = run("list");
  EXPECT_EQ(o.status, ParseStatus::kIncomplete);
  ASSERT_EQ(o.pending.size(), 1u);
  EXPECT_EQ(o.pending[0]->keywords, std::vector<std::string>{"LIST"});
  EXPECT_TRUE(o.pending_args.empty());
  // A complete command before the incomplete one runs.
  auto p = run("list hosts set");
  EXPECT_EQ(p.status, ParseStatus::kIncomplete);
  EXPECT_EQ(runs("list hosts"), 1);
  ASSERT_EQ(p.pending.size(), 1u);
  EXPECT_EQ(p.pending[0]->keywords, std::vector<std::string>{"SET"});
}

TEST_F(ShellTest, UnknownCommandFails) {
  auto o = run("frobnicate");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(o.next_token, 0u);
  EXPECT_NE(err_.find("unknown command"), std::string::npos) << err_;
  // After a good command: the good one runs, the chain stops at the bad word.
  o = run("list hosts frobnicate list backups");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(o.next_token, 2u);
  EXPECT_EQ(runs("list hosts"), 1);
  EXPECT_EQ(runs("list backups"), 0);
}

TEST_F(ShellTest, InvalidWordInsideACommandFails) {
  auto o = run("set max lots mb");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(o.next_token, 2u);
  EXPECT_EQ(total_runs(), 0);
  EXPECT_NE(err_.find("not valid here"), std::string::npos) << err_;
  // The caret line points under the bad word.
  EXPECT_NE(err_.find("  set max lots mb\n          ^"), std::string::npos) << err_;
}

TEST_F(ShellTest, QuotedWordAtTheStartIsNotACommand) {
  auto o = run("\"list\" hosts");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(total_runs(), 0);
}

TEST_F(ShellTest, QuotedArgumentKeepsSpaces) {
  EXPECT_EQ(run("echo \"two words\"").status, ParseStatus::kOk);
  ASSERT_EQ(rec.calls.size(), 1u);
  EXPECT_EQ(rec.calls[0].second, std::vector<std::string>{"two words"});
}

TEST_F(ShellTest, KeywordsBeforeTypedArgumentsAndIntegerBeforeWord) {
  EXPECT_EQ(run("num all").status, ParseStatus::kOk);
  EXPECT_EQ(runs("num all"), 1);
  EXPECT_EQ(run("num 12").status, ParseStatus::kOk);
  EXPECT_EQ(runs("num int"), 1);
  EXPECT_EQ(rec.calls.back().second, std::vector<std::string>{"12"});
  EXPECT_EQ(run("num abc").status, ParseStatus::kOk);
  EXPECT_EQ(runs("num word"), 1);
  EXPECT_EQ(rec.calls.back().second, std::vector<std::string>{"abc"});
  EXPECT_EQ(run("num -3").status, ParseStatus::kOk);  // not an Integer: a Word
  EXPECT_EQ(runs("num word"), 2);
  EXPECT_EQ(run("num 1234567890").status, ParseStatus::kOk);  // too long for an Integer
  EXPECT_EQ(runs("num word"), 3);
  EXPECT_EQ(runs("num int"), 1);
}

TEST_F(ShellTest, IntegerWhereOnlyIntegerOrKeywordFits) {
  EXPECT_EQ(run("list 10 backups").status, ParseStatus::kOk);
  EXPECT_EQ(runs("list n backups"), 1);
  EXPECT_EQ(rec.calls.back().second, std::vector<std::string>{"10"});
  auto o = run("list 10");
  EXPECT_EQ(o.status, ParseStatus::kIncomplete);
  EXPECT_EQ(o.pending_args, std::vector<std::string>{"10"});
}

TEST_F(ShellTest, DateAndTimeArguments) {
  EXPECT_EQ(run("when 26-Jul-2019").status, ParseStatus::kOk);
  EXPECT_EQ(runs("when date"), 1);
  EXPECT_EQ(run("when 26-jul-2019 14:07").status, ParseStatus::kOk);
  EXPECT_EQ(runs("when date time"), 1);
  EXPECT_EQ(rec.calls.back().second, (std::vector<std::string>{"26-jul-2019", "14:07"}));
  EXPECT_EQ(run("when yesterday").status, ParseStatus::kFailed);
  // 25:00 starts no command, so it is a mistake in this one: nothing runs.
  EXPECT_EQ(run("when 26-Jul-2019 25:00").status, ParseStatus::kFailed);
  EXPECT_EQ(runs("when date"), 1);
}

TEST_F(ShellTest, FailingActionStopsTheChain) {
  auto o = run("fail list hosts");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(o.next_token, 1u);
  EXPECT_EQ(runs("fail"), 1);
  EXPECT_EQ(runs("list hosts"), 0);
}

TEST_F(ShellTest, ThrownErrorIsReportedAsFailure) {
  auto o = run("throw list hosts");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(runs("throw"), 1);
  EXPECT_EQ(runs("list hosts"), 0);
  EXPECT_NE(err_.find("thrown on purpose"), std::string::npos) << err_;
}

TEST_F(ShellTest, OtherExceptionsAreReportedAsFailure) {
  auto o = run("crash list hosts");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_EQ(runs("crash"), 1);
  EXPECT_EQ(runs("list hosts"), 0);
  EXPECT_NE(err_.find("not a seshat error"), std::string::npos) << err_;
}

TEST_F(ShellTest, OptionalArgumentStopsBeforeAFullCommandName) {
  // CD may end on its own; a following full command name starts the next command ...
  EXPECT_EQ(run("cd list hosts").status, ParseStatus::kOk);
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_EQ(rec.calls[0].first, "cd");
  EXPECT_EQ(rec.calls[1].first, "list hosts");
  // ... but other words, prefixes of commands and quoted names are arguments.
  EXPECT_EQ(run("cd docs").status, ParseStatus::kOk);
  EXPECT_EQ(rec.calls.back().first, "cd word");
  EXPECT_EQ(rec.calls.back().second, std::vector<std::string>{"docs"});
  EXPECT_EQ(run("cd lis").status, ParseStatus::kOk);
  EXPECT_EQ(rec.calls.back().second, std::vector<std::string>{"lis"});
  EXPECT_EQ(run("cd \"list\"").status, ParseStatus::kOk);
  EXPECT_EQ(rec.calls.back().first, "cd word");
  EXPECT_EQ(rec.calls.back().second, std::vector<std::string>{"list"});
  EXPECT_EQ(run("cd QUIT").status, ParseStatus::kExit);
  EXPECT_EQ(runs("quit"), 1);
  ctx_->exit_requested = false;
  // A required argument (no action before it) still takes the word.
  EXPECT_EQ(run("echo list").status, ParseStatus::kOk);
  EXPECT_EQ(rec.calls.back().first, "echo");
  EXPECT_EQ(rec.calls.back().second, std::vector<std::string>{"list"});
}

TEST_F(ShellTest, ExitStopsTheChain) {
  auto o = run("list hosts quit list backups");
  EXPECT_EQ(o.status, ParseStatus::kExit);
  EXPECT_EQ(runs("list hosts"), 1);
  EXPECT_EQ(runs("quit"), 1);
  EXPECT_EQ(runs("list backups"), 0);
  EXPECT_TRUE(ctx_->exit_requested);
}

TEST_F(ShellTest, HelpAfterAWordPrintsWhatMayFollow) {
  auto o = run("list ?");
  // Nothing ran, and the command waits where it was (an interactive shell keeps its prompt).
  EXPECT_EQ(o.status, ParseStatus::kHelp);
  ASSERT_EQ(o.pending.size(), 1u);
  EXPECT_EQ(o.pending[0]->keywords.front(), "LIST");
  EXPECT_EQ(total_runs(), 0);
  EXPECT_NE(out_.find("BACKUPS"), std::string::npos) << out_;
  EXPECT_NE(out_.find("HOSTS | MACHINES"), std::string::npos) << out_;
  EXPECT_NE(out_.find("<Integer>"), std::string::npos) << out_;
  o = run("set max HELP");
  EXPECT_EQ(o.status, ParseStatus::kHelp);
  EXPECT_NE(out_.find("<Integer>"), std::string::npos) << out_;
  // Continued from the same point: "?" in the middle shows help, then the command goes on.
  o = run("list ? hosts");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(runs("list hosts"), 1);
  // A command that could end there does not run either.
  int before = total_runs();
  o = run("num ?");
  EXPECT_EQ(o.status, ParseStatus::kHelp);
  EXPECT_EQ(total_runs(), before);
}

TEST_F(ShellTest, HelpCommandShowsThatCommandsHelpAndRunsNothing) {
  auto o = run("help list");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(total_runs(), 0);
  EXPECT_NE(out_.find("LIST - "), std::string::npos) << out_;
  EXPECT_NE(out_.find("BACKUPS"), std::string::npos) << out_;
  out_.clear();
  o = run("HELP list hosts");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(total_runs(), 0);
  EXPECT_NE(out_.find("LIST HOSTS | MACHINES - "), std::string::npos) << out_;
  o = run("help nosuch");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_NE(err_.find("HELP: unknown command 'nosuch'"), std::string::npos) << err_;
  // HELP takes the whole line: a word it cannot place is an error, never a command to run.
  o = run("help list ba show");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  EXPECT_NE(err_.find("ambiguous"), std::string::npos) << err_;
  o = run("help echo word show");
  EXPECT_EQ(o.status, ParseStatus::kFailed);
  o = run("help show config");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(total_runs(), 0);
}

TEST_F(ShellTest, CommandNameAfterHelpMarkStartsANewCommand) {
  // After "echo ?", SHOW is a command, not the word echo takes.
  auto o = run("echo ? show");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(runs("echo"), 0);
  EXPECT_EQ(runs("show"), 1);
}

TEST_F(ShellTest, Complete) {
  using V = std::vector<std::string>;
  EXPECT_EQ(complete(root_, {}, "l"), V{"LIST"});
  EXPECT_EQ(complete(root_, {}, "S"), (V{"SET", "SHOW"}));
  EXPECT_EQ(complete(root_, {}, "x"), V{});
  EXPECT_EQ(complete(root_, {}, "").size(), 12u);  // every keyword, synonyms included
  EXPECT_EQ(complete(root_, {}, "c"), (V{"CD", "CRASH"}));
  EXPECT_EQ(complete(root_, {"list"}, "ba"), (V{"BACKUPS", "BACKLOG"}));
  EXPECT_EQ(complete(root_, {"lis"}, "h"), V{"HOSTS"});
  EXPECT_EQ(complete(root_, {"list"}, "m"), V{"MACHINES"});
  EXPECT_EQ(complete(root_, {"list", "5"}, "b"), (V{"BACKUPS", "BACKLOG"}));
  EXPECT_EQ(complete(root_, {"set", "max", "5"}, ""), (V{"MB", "GB"}));
  EXPECT_EQ(complete(root_, {"num"}, ""), V{"ALL"});  // typed arguments are not offered
  // After a complete command, the next one starts.
  EXPECT_EQ(complete(root_, {"list", "hosts"}, "sh"), V{"SHOW"});
  EXPECT_EQ(complete(root_, {"bogus"}, ""), V{});
  EXPECT_EQ(complete(root_, {"back"}, ""), V{});
}

// complete() should follow the words the way run_tokens parses them: a command that may end
// (SHOW, CD) ends before a word that is not one of its children or is a full command name, and
// the next command starts there.
TEST_F(ShellTest, CompleteAfterACommandThatMayEnd) {
  using V = std::vector<std::string>;
  ASSERT_EQ(run("show list hosts").status, ParseStatus::kOk);  // how the parser reads it
  EXPECT_EQ(complete(root_, {"show", "list"}, "h"), V{"HOSTS"});
  ASSERT_EQ(run("cd list hosts").status, ParseStatus::kOk);
  EXPECT_EQ(complete(root_, {"cd", "list"}, "h"), V{"HOSTS"});
}

TEST_F(ShellTest, AcceptsTypedArguments) {
  Node i = arg(ArgType::kInteger, "i");
  EXPECT_TRUE(accepts(i, "0"));
  EXPECT_TRUE(accepts(i, "123456789"));
  EXPECT_FALSE(accepts(i, "1234567890"));
  EXPECT_FALSE(accepts(i, ""));
  EXPECT_FALSE(accepts(i, "-1"));
  EXPECT_FALSE(accepts(i, "1a"));
  EXPECT_FALSE(accepts(i, "\xd9\xa3"));  // a non-ASCII digit
  Node w = arg(ArgType::kWord, "w");
  EXPECT_TRUE(accepts(w, "x"));
  EXPECT_FALSE(accepts(w, ""));
  Node d = arg(ArgType::kDate, "d");
  EXPECT_TRUE(accepts(d, "26-Jul-2019"));
  EXPECT_FALSE(accepts(d, "26-Foo-2019"));
  Node t = arg(ArgType::kTime, "t");
  EXPECT_TRUE(accepts(t, "14:07"));
  EXPECT_TRUE(accepts(t, "00:00:00"));
  EXPECT_TRUE(accepts(t, "23:59:59"));
  EXPECT_FALSE(accepts(t, "24:00"));
  EXPECT_FALSE(accepts(t, "12:60"));
  EXPECT_FALSE(accepts(t, "12"));
  EXPECT_FALSE(accepts(t, "noon"));
  EXPECT_FALSE(accepts(kw({"X"}, "x"), "X"));  // keywords are matched by the caller
}

// The Time argument should accept only HH:MM or HH:MM:SS with valid fields.
TEST_F(ShellTest, TimeArgumentRejectsBadSecondsAndTrailingText) {
  Node t = arg(ArgType::kTime, "t");
  EXPECT_FALSE(accepts(t, "14:07:99")) << "seconds out of range accepted";
  EXPECT_FALSE(accepts(t, "14:07xyz")) << "trailing text accepted";
}

TEST(CheckTree, ShippedGrammarHasNoProblems) {
  auto problems = check_tree(command_table());
  for (const auto& p : problems) ADD_FAILURE() << p;
}

TEST(CheckTree, ReportsProblemsInAHandMadeTable) {
  Node root;
  root.help = "root";
  auto ok = [](Context&) { return 0; };
  root.children = {
      kw({"LIST"}, "list", ok),
      kw({"LISTX"}, "listx", ok),
      kw({"NOHELP"}, "", ok),
      kw({"DEAD"}, "dead end"),
      kw({"lower"}, "lower case", ok),
      kw({"DUP"}, "one", ok),
      kw({"DUP"}, "two", ok),
      kw({"ARGS"}, "two free-text arguments", nullptr,
         {arg(ArgType::kWord, "w", ok), arg(ArgType::kDirectory, "d", ok)}),
      arg(ArgType::kNone, "nothing", ok),
  };
  auto problems = check_tree(root);
  auto has = [&](const std::string& needle) {
    for (const auto& p : problems)
      if (p.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("ambiguous prefix: LIST is a prefix of LISTX"));
  EXPECT_TRUE(has("no help text: NOHELP"));
  EXPECT_TRUE(has("dead end"));
  EXPECT_TRUE(has("DEAD"));
  EXPECT_TRUE(has("keyword not in upper case: lower"));
  EXPECT_TRUE(has("duplicate keyword DUP"));
  EXPECT_TRUE(has("more than one free-text argument after: ARGS"));
  EXPECT_TRUE(has("neither keyword nor argument"));
  for (const auto& p : problems) EXPECT_EQ(p.find("ECHO"), std::string::npos);
}

TEST(CheckTree, AmbiguityDeepInTheTree) {
  Node root;
  root.help = "root";
  auto ok = [](Context&) { return 0; };
  root.children = {
      kw({"A"}, "a", nullptr, {kw({"B"}, "b", nullptr, {kw({"GO"}, "go", ok), kw({"GOTO"}, "goto", ok)})})};
  auto problems = check_tree(root);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("GO is a prefix of GOTO after: A B"), std::string::npos) << problems[0];
}

TEST(CheckTree, PrefixesAcrossDifferentParentsAreFine) {
  Node root;
  root.help = "root";
  auto ok = [](Context&) { return 0; };
  root.children = {kw({"A"}, "a", nullptr, {kw({"GO"}, "go", ok)}),
                   kw({"B"}, "b", nullptr, {kw({"GOTO"}, "goto", ok)})};
  EXPECT_TRUE(check_tree(root).empty());
}

TEST(Grammar, ExactKeywordWinsOverLongerSibling) {
  // Even in a table GRAMMAR CHECK would reject: LIST vs LISTX.
  TempDir home;
  std::string old_home = std::getenv("HOME") ? std::getenv("HOME") : "";
  ::setenv("HOME", home.path().c_str(), 1);
  session::Session s;
  if (old_home.empty())
    ::unsetenv("HOME");
  else
    ::setenv("HOME", old_home.c_str(), 1);
  Context ctx{s, {}, false, false, nullptr};
  int list = 0, listx = 0;
  Node root;
  root.help = "root";
  root.children = {kw({"LIST"}, "l", [&](Context&) { return ++list, 0; }),
                   kw({"LISTX"}, "lx", [&](Context&) { return ++listx, 0; })};
  ::testing::internal::CaptureStderr();
  auto a = run_tokens(root, tokenize("list").tokens, "list", ctx);
  auto b = run_tokens(root, tokenize("listx").tokens, "listx", ctx);
  auto c = run_tokens(root, tokenize("lis").tokens, "lis", ctx);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(a.status, ParseStatus::kOk);
  EXPECT_EQ(b.status, ParseStatus::kOk);
  EXPECT_EQ(c.status, ParseStatus::kFailed);
  EXPECT_EQ(list, 1);
  EXPECT_EQ(listx, 1);
}

TEST(Grammar, HelpLinesAndPrintTree) {
  auto lines = help_lines(command_table());
  EXPECT_FALSE(lines.empty());
  bool has_list = false;
  for (const auto& l : lines) has_list |= l.find("LIST") != std::string::npos;
  EXPECT_TRUE(has_list);
  auto tree = print_tree(command_table());
  EXPECT_GT(tree.size(), lines.size());
  bool top = false, nested = false;
  for (const auto& l : tree) {
    top |= l.rfind("LIST ", 0) == 0;
    nested |= l.rfind("  BACKUPS ", 0) == 0;
  }
  EXPECT_TRUE(top);
  EXPECT_TRUE(nested);
  // A node that may end shows "(end)".
  Node n = kw({"X"}, "x", [](Context&) { return 0; }, {kw({"Y"}, "y", [](Context&) { return 0; })});
  auto h = help_lines(n);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_NE(h[1].find("(end)"), std::string::npos);
}

TEST(PruneTree, RemovesDeadEndsAndDuplicates) {
  auto ok = [](Context&) { return 0; };
  Node root;
  root.help = "root";
  root.children = {
      kw({"KEEP"}, "kept", ok),
      kw({"DEAD"}, "dead end"),
      kw({"KEEP"}, "duplicate of KEEP", ok),
      kw({"SYN", "KEEP"}, "shares one keyword only", ok),
      kw({"OUTER"}, "becomes a dead end once its only child goes", nullptr, {kw({"INNER"}, "dead")}),
      kw({"MIXED"}, "keeps its live child", nullptr, {kw({"LIVE"}, "live", ok), kw({"GONE"}, "dead")}),
  };
  auto removed = prune_tree(root);
  std::vector<std::string> labels;
  for (const auto& c : root.children) labels.push_back(c.keywords[0]);
  EXPECT_EQ(labels, (std::vector<std::string>{"KEEP", "SYN", "MIXED"}));
  EXPECT_EQ(root.children[0].help, "kept");
  ASSERT_EQ(root.children[2].children.size(), 1u);
  EXPECT_EQ(root.children[2].children[0].keywords[0], "LIVE");
  auto has = [&](const std::string& needle) {
    for (const auto& r : removed)
      if (r.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_EQ(removed.size(), 5u);
  EXPECT_TRUE(has("dead end: DEAD"));
  EXPECT_TRUE(has("duplicate: KEEP"));
  EXPECT_TRUE(has("dead end: OUTER INNER"));
  EXPECT_TRUE(has("dead end: OUTER"));
  EXPECT_TRUE(has("dead end: MIXED GONE"));
  for (const auto& p : check_tree(root)) EXPECT_EQ(p.find("dead end"), std::string::npos) << p;
}

TEST(PruneTree, ShippedGrammarHasNothingToPrune) {
  Node copy = command_table();
  EXPECT_TRUE(prune_tree(copy).empty());
}

TEST(Grammar, ArgNames) {
  EXPECT_STREQ(arg_name(ArgType::kInteger), "<Integer>");
  EXPECT_STREQ(arg_name(ArgType::kWord), "<Word>");
  EXPECT_STREQ(arg_name(ArgType::kNone), "");
}

}  // namespace
}  // namespace seshat::shell
