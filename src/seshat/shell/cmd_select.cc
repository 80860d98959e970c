// SELECT ..., CD.
#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/util/log.h"

namespace seshat::shell {

std::vector<Node> select_commands() {
  using session::Session;
  Action select_date = [](Context& c) {
    c.session.select_backup_date(join_args(c));
    return 0;
  };
  return {
      kw({"CD"}, "Move in the selected folder's tree as of the point in time; alone, print the current folder",
         [](Context& c) {
           out(c.session.cwd_path());
           return 0;
         },
         {arg(ArgType::kInteger, "Row n of the last listing: enter a folder, or pick a file for LIST VERSIONS",
              run_arg([](Session& s, const std::string& n) { log::info("Now at {}", s.cd_number(std::stoi(n))); })),
          arg(ArgType::kWord,
              "A folder path: relative (docs, docs/2024, ..), or absolute (/ is the top of the folder, or the "
              "folder's own path and below)",
              run_arg([](Session& s, const std::string& w) { log::info("Now at {}", s.cd(w)); }))}),
      kw({"SELECT"}, "Select what LIST, CD and RESTORE work on", nullptr,
         {
             kw({"BACKUP"},
                "Select a backup by its LIST BACKUPS number or by date (this host's, or the selected host's or "
                "folder's): listings and restores show the state as of it",
                nullptr,
                {arg(ArgType::kInteger, "The number from LIST BACKUPS",
                     run_arg([](Session& s, const std::string& n) { s.select_backup_number(std::stoi(n)); })),
                 arg(ArgType::kDate, "The newest backup on or before this day", select_date,
                     {arg(ArgType::kTime, "HH:MM or HH:MM:SS", select_date)})}),
             kw({"FOLDER"}, "Select a backed-up folder by number or path", nullptr,
                {arg(ArgType::kInteger, "The number from LIST FOLDERS",
                     run_arg([](Session& s, const std::string& n) { s.select_folder_number(std::stoi(n)); })),
                 arg(ArgType::kWord, "The folder's path",
                     run_arg([](Session& s, const std::string& p) { s.select_folder(p); }))}),
             kw({"HOST"}, "Select a host by number or name", nullptr,
                {arg(ArgType::kInteger, "The number from LIST HOSTS",
                     run_arg([](Session& s, const std::string& n) { s.select_host_number(std::stoi(n)); })),
                 arg(ArgType::kWord, "The host name",
                     run_arg([](Session& s, const std::string& h) { s.select_host(h); }))}),
             kw({"RESET"}, "Reset the selections and the point in time (SELECT BACKUP, RESTORE TIMESTAMP)",
                run([](Session& s) {
                  s.select_reset();
                  log::info("Selections reset");
                })),
         }),
  };
}

}  // namespace seshat::shell
