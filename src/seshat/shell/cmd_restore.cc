// RESTORE ...
#include <fmt/format.h>

#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::shell {
namespace {

using session::Session;

// Files that differ at the destination are replaced only under SET OVERWRITE YES or when the
// terminal user agrees; in batch mode they are kept, named, and the exit status is 1.
int restore_go(Context& c) {
  bool overwrite = false;
  const auto& s = c.session.settings();
  if (c.interactive && !s.dry_run && !s.overwrite) {
    size_t n = c.session.restore_conflicts();
    if (n > 0) {
      require_confirmation(
          c,
          n == 1 ? std::string("1 file at the target differs from the backup and will be overwritten")
                 : fmt::format("{} files at the target differ from the backup and will be overwritten", n),
          "yes");
      overwrite = true;
    }
  }
  session::RestoreOutcome r = c.session.restore_go(overwrite);
  if (r.failed > 0 && r.kept > 0)
    throw Error(ErrorKind::kCorruption,
                fmt::format("{} files could not be restored and {} were kept because different "
                            "files are in their place (see above; SET OVERWRITE YES replaces them)",
                            r.failed, r.kept));
  if (r.failed > 0) throw Error(ErrorKind::kCorruption, "some files could not be restored (see above)");
  if (r.kept > 0)
    throw Error(ErrorKind::kInvalidInput,
                fmt::format("{} {} kept because different files are in their place (see above); SET OVERWRITE YES "
                            "replaces them",
                            r.kept,
                            s.dry_run ? (r.kept == 1 ? "file would be" : "files would be")
                                      : (r.kept == 1 ? "file was" : "files were")));
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
                 kw({"BAREMETAL"}, "Everything of the selected host (or this one), as RESTORE BAREMETAL",
                    run([](Session& s) { s.restore_baremetal(); })),
                 kw({"FOLDER"}, "The files of the current folder (not its subfolders)",
                    run([](Session& s) { s.restore_add_folder(); })),
                 kw({"TREE"}, "The current folder (CD; the selected folder at first) and everything below it",
                    run([](Session& s) { s.restore_add_tree(); }))}),
             kw({"BAREMETAL"},
                "Everything of the selected host (or this one) as of the point in time; a folder with no backup by "
                "then is left out with a WARN",
                run([](Session& s) { s.restore_baremetal(); })),
             kw({"GO"},
                "Run the restore; existing files that differ are kept unless SET OVERWRITE YES (or yes at a terminal)",
                restore_go),
             kw({"TARGET"}, "Where to restore: a directory (original paths recreated beneath it) or ORIGINAL", nullptr,
                {kw({"ORIGINAL"}, "The paths the files were backed up from (the default); differing files are kept",
                    run([](Session& s) { s.restore_target(""); })),
                 arg(ArgType::kDirectory, "An absolute directory",
                     run_arg([](Session& s, const std::string& d) { s.restore_target(d); }))}),
             kw({"TIMESTAMP"}, "Restore as of this time (the newest backup at or before it)", nullptr,
                {arg(ArgType::kDate, "dd-MMM-yyyy (the end of that day)", timestamp,
                     {arg(ArgType::kTime, "HH:MM or HH:MM:SS", timestamp)})}),
         }),
  };
}

}  // namespace seshat::shell
