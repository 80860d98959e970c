// HELP, EXIT (BYE, QUIT), GRAMMAR.
#include <fmt/format.h>

#include "seshat/shell/commands.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::shell {

std::vector<Node> meta_commands() {
  Action exit_action = [](Context& c) {
    c.exit_requested = true;
    return 0;
  };
  Action help_action = [](Context&) {
    for (const auto& l : help_lines(command_table())) out(l);
    out("  Type a command, or a command followed by ? to see what may follow.");
    return 0;
  };
  return {
      kw({"BYE", "EXIT", "QUIT"}, "Leave Seshat", exit_action),
      kw({"GRAMMAR"}, "Internal commands for the command tables", nullptr,
         {kw({"CHECK"}, "Check the command parse tables",
             [](Context&) {
               auto problems = check_tree(command_table());
               for (const auto& p : problems) out("  " + p);
               if (!problems.empty())
                 throw Error(ErrorKind::kInvalidInput, fmt::format("the grammar has {} problems", problems.size()));
               log::info("Grammar check passed");
               return 0;
             }),
          kw({"PRINT"}, "Print the list of commands",
             [](Context&) {
               for (const auto& l : print_tree(command_table())) out(l);
               return 0;
             }),
          kw({"PRUNE"},
             "Show the nodes pruning would drop from the command tables (dead ends, duplicates); the tables stay as "
             "they are",
             [](Context&) {
               Node copy = command_table();
               auto removed = prune_tree(copy);
               for (const auto& r : removed) out("  pruned " + r);
               log::info("Grammar prune removed {} nodes", removed.size());
               return 0;
             })}),
      kw({"HELP", "?"}, "Display what is expected at this point. Also ? after any word", help_action),
  };
}

}  // namespace seshat::shell
