// AUTOMATIC, BACKUP, INITIALIZE.
#include "seshat/session/session.h"
#include "seshat/shell/commands.h"

namespace seshat::shell {

std::vector<Node> backup_commands() {
  using session::Session;
  return {
      kw({"AUTOMATIC"},
         "Back up every folder of this host registered for it (LIST AUTO); one that fails is named, the others go on",
         run([](Session& s) { s.automatic(); }),
         {kw({"ADD"}, "Register a directory for AUTOMATIC without backing it up now", nullptr,
             {arg(ArgType::kDirectory, "The directory",
                  run_arg([](Session& s, const std::string& d) { s.automatic_add(d); }))}),
          kw({"REMOVE"}, "Stop backing up a folder with AUTOMATIC (its backups stay)", nullptr,
             {arg(ArgType::kInteger, "Its number in LIST AUTO",
                  run_arg([](Session& s, const std::string& n) { s.automatic_remove(std::stoi(n)); })),
              arg(ArgType::kWord, "The folder's path",
                  run_arg([](Session& s, const std::string& p) { s.automatic_remove(std::nullopt, p); }))})}),
      kw({"BACKUP"}, "Back up a directory (initialises for you)", nullptr,
         {arg(ArgType::kDirectory, "The directory to back up",
              run_arg([](Session& s, const std::string& d) { s.backup(d); }))}),
      kw({"INITIALIZE"},
         "Initialize Seshat: open the store's repository (create it if the store is empty) and read the DB",
         run([](Session& s) { s.initialize(); })),
  };
}

}  // namespace seshat::shell
