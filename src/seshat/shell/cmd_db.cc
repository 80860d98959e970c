// DB ..., RESET DB, VERIFY.
#include <fmt/format.h>

#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"

namespace seshat::shell {
namespace {

using session::Session;

int db_reset(Context& c) {
  const auto& st = c.session.settings();
  require_confirmation(
      c, "DB RESET forgets every backup in " + c.session.store_description() + " (DO NOT DO THIS unless you mean it)",
      st.store == session::StoreKind::kS3 ? st.s3_bucket : st.local_dir);
  c.session.db_reset();
  return 0;
}

// DB REBUILD replaces a catalog that loads only when asked to (it keeps the old one aside).
int db_rebuild(Context& c) {
  if (auto n = c.session.loadable_backups(); n && *n > 0)
    require_confirmation(c,
                         fmt::format("the DB loads ({} backups); DB REBUILD replaces it with what the containers' "
                                     "indexes hold (no deletions, symlinks or empty files); the current one is kept",
                                     *n),
                         "yes");
  c.session.db_rebuild();
  return 0;
}

int db_generations(Context& c) {
  auto rows = c.session.db_generations();
  if (rows.empty()) out("  (none)");
  for (const auto& r : rows)
    out(fmt::format("  {:>20}  {:>10}{}", r.number, human_size(r.size),
                    r.kept      ? "  kept (set aside by DB REBUILD)"
                    : r.current ? "  (loaded)"
                                : ""));
  return 0;
}

int db_size(Context& c) {
  auto s = c.session.db_size();
  out(fmt::format("DB generation {} ({} kept), stored size {} (a base and {})", s.generation, s.generations,
                  human_size(s.stored_bytes), plural(s.deltas, "delta", "deltas")));
  out(fmt::format("{} hosts, {} folders, {} backups, {} containers", s.hosts, s.folders, s.backups, s.containers));
  out(fmt::format("{} paths, {} versions, {} distinct contents, {} in memory", s.entries, s.versions, s.contents,
                  human_size(s.memory_bytes)));
  return 0;
}

Action verify(bool data, bool with_percent) {
  return [data, with_percent](Context& c) {
    double pct = with_percent ? std::stod(c.args.at(0)) : 100.0;
    if (!c.session.verify(data, pct)) throw Error(ErrorKind::kCorruption, "VERIFY found problems (see above)");
    return 0;
  };
}

}  // namespace

std::vector<Node> db_commands() {
  return {
      kw({"DB"}, "Work on the catalog (the DB) itself", nullptr,
         {
             kw({"GENERATIONS"}, "List the DB generations in the store, with those DB REBUILD set aside",
                db_generations),
             kw({"REBUILD"},
                "Recreate the DB from the containers' own indexes when the DB is lost (asks if it loads; the old "
                "one is kept)",
                db_rebuild),
             kw({"RESET"},
                "Reset the DB - DO NOT DO THIS AS YOU WILL FORGET ALL HISTORY! (asks to type the store name)",
                db_reset),
             kw({"LOAD"}, "Load the DB from the store; with a number, make that generation the newest again",
                run([](Session& s) { s.db_load(); }),
                {arg(ArgType::kInteger, "A generation (DB GENERATIONS lists them)",
                     run_arg([](Session& s, const std::string& n) { s.db_load_generation(std::stoull(n)); }))}),
             kw({"LOCK"}, "Manually lock the DB until DB UNLOCK or exit", run([](Session& s) { s.db_lock(); })),
             kw({"SAVE"}, "Save the DB as a new generation", run([](Session& s) { s.db_save(); })),
             kw({"SIZE"}, "Report the DB size", db_size),
             kw({"UNLOCK"}, "Manually unlock the DB. Useful in the case of a crash",
                run([](Session& s) { s.db_unlock(); })),
         }),
      kw({"RESET"}, "Reset things", nullptr,
         {kw({"DB"}, "Reset the database. DON'T DO THIS (asks to type the store name)", db_reset)}),
      kw({"VERIFY"},
         "Check that every container the DB refers to is in the store and lists the blobs; exit status 1 if not",
         verify(false, false),
         {kw({"DATA"}, "Also download and authenticate every blob; a number checks that share at random",
             verify(true, false),
             {arg(ArgType::kInteger, "The percentage of blobs to check (1-100)", verify(true, true))})}),
  };
}

}  // namespace seshat::shell
