// AUTOMATIC, BACKUP, INITIALIZE.
#include "seshat/session/session.h"
#include "seshat/shell/commands.h"

namespace seshat::shell {

std::vector<Node> backup_commands() {
  using session::Session;
  return {
      kw({"AUTOMATIC"}, "Back up every folder of this host backed up before; one that fails is named, the others go on",
         run([](Session& s) { s.automatic(); })),
      kw({"BACKUP"}, "Back up a directory (initialises for you)", nullptr,
         {arg(ArgType::kDirectory, "The directory to back up",
              run_arg([](Session& s, const std::string& d) { s.backup(d); }))}),
      kw({"INITIALIZE"},
         "Initialize Seshat: open the store's repository (create it if the store is empty) and read the DB",
         run([](Session& s) { s.initialize(); })),
  };
}

}  // namespace seshat::shell
