// RESTORE ...
#include <fmt/format.h>

#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::shell {
namespace {

using session::Session;

int restore_go(Context& c) {
  if (c.interactive && !c.session.settings().dry_run) {
    size_t n = c.session.restore_conflicts();
    if (n > 0) require_confirmation(c, fmt::format("{} files exist at the target and will be overwritten", n), "yes");
  }
  if (!c.session.restore_go()) throw Error(ErrorKind::kCorruption, "some files could not be restored (see above)");
  return 0;
}

}  // namespace

std::vector<Node> restore_commands() {
  Action timestamp = [](Context& c) {
    c.session.restore_timestamp(join_args(c));
    return 0;
  };
  return {
      kw({"RESTORE"}, "Reset the restore setup; with more words, set up and run a restore", run([](Session& s) {
           s.restore_reset();
           log::info("Restore setup reset");
         }),
         {
             kw({"ADD"}, "Add to what will be restored", nullptr,
                {kw({"FILE"}, "A row of the last listing (LIST FILES, LIST VERSIONS, SEARCH), ALL rows, or RESET",
                    nullptr,
                    {kw({"ALL"}, "Every row of the last listing", run([](Session& s) { s.restore_add_all(); })),
                     kw({"RESET"}, "Forget what RESTORE ADD selected", run([](Session& s) { s.restore_add_reset(); })),
                     arg(ArgType::kInteger, "The row number",
                         run_arg([](Session& s, const std::string& n) { s.restore_add_file(std::stoi(n)); }))}),
                 kw({"FOLDER"}, "The files of the current folder (not its subfolders)",
                    run([](Session& s) { s.restore_add_folder(); })),
                 kw({"TREE"}, "The current folder (CD; the selected folder at first) and everything below it",
                    run([](Session& s) { s.restore_add_tree(); }))}),
             kw({"BAREMETAL"}, "Everything of the selected host (or this one) as of the timestamp",
                run([](Session& s) { s.restore_baremetal(); })),
             kw({"GO"}, "Run the restore (asks before overwriting existing files, interactively)", restore_go),
             kw({"TARGET"}, "Where to restore: a directory (original paths recreated beneath it) or ORIGINAL", nullptr,
                {kw({"ORIGINAL"}, "Restore over the original paths", run([](Session& s) { s.restore_target(""); })),
                 arg(ArgType::kDirectory, "An absolute directory",
                     run_arg([](Session& s, const std::string& d) { s.restore_target(d); }))}),
             kw({"TIMESTAMP"}, "Restore as of this time (the newest backup at or before it)", nullptr,
                {arg(ArgType::kDate, "dd-MMM-yyyy (the end of that day)", timestamp,
                     {arg(ArgType::kTime, "HH:MM or HH:MM:SS", timestamp)})}),
         }),
  };
}

}  // namespace seshat::shell
