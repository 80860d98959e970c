// The browsing state and the restore plan on the shared catalog fixture: no store, no shell.
#include "seshat/session/browse.h"

#include <gtest/gtest.h>

#include <map>

#include "../catalog/catalog_fixture.h"
#include "../test_support.h"
#include "seshat/session/restore_plan.h"

namespace seshat::session {
namespace {

using catalog::test::Sample;

std::vector<std::string> paths(const std::vector<EntryRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.path);
  return out;
}

TEST(Browser, RowsOfTheWholeCatalogFollowTheSelection) {
  Sample s;
  Browser b("laptop");
  EXPECT_EQ(b.backups(s.c).size(), 5u);
  EXPECT_EQ(b.backups(s.c).front().backup, s.b0);  // in the order they were recorded
  EXPECT_EQ(b.hosts(s.c).size(), 2u);
  EXPECT_EQ(b.folders(s.c).size(), 2u);
  b.select_host(s.c, "server");
  EXPECT_EQ(b.folders(s.c).size(), 1u);
  EXPECT_EQ(b.backups(s.c).size(), 1u);
  EXPECT_THROW_KIND(kNotFound, b.select_host(s.c, "nobody"));
  EXPECT_THROW_KIND(kInvalidInput, b.select_host_number(s.c, 3));
}

TEST(Browser, ListingsShowTheSelectedPointInTime) {
  Sample s;
  Browser b("laptop");
  b.select_folder(s.c, "/home/u/");
  // The newest backup (b3): docs/ back with new.txt, zeta back, link, Alpha.
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"Alpha", "docs", "link", "zeta"}));
  EXPECT_EQ(paths(b.list_tree(s.c)), (std::vector<std::string>{"Alpha", "docs", "new.txt", "link", "zeta"}));
  // As of b2 (docs and zeta deleted). Numbers are in recording order over every backup.
  b.select_backup_number(s.c, 3);
  EXPECT_EQ(b.selected_backup(), s.b2);
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"Alpha", "link"}));
  // As of b0 through the timestamp: the later of the two settings wins, the other is cleared.
  b.set_time(s.c.backups[s.b0].time_ns);
  EXPECT_FALSE(b.selected_backup().has_value());
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"docs", "link", "zeta"}));
  b.select_backup_number(s.c, 3);
  EXPECT_FALSE(b.time().has_value());
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"Alpha", "link"}));
  b.set_time(1);  // before every backup of the folder
  EXPECT_THROW_KIND(kNotFound, b.list_files(s.c));
  // SELECT RESET clears the point in time too.
  b.reset();
  EXPECT_FALSE(b.time().has_value());
  EXPECT_FALSE(b.selected_backup().has_value());
}

TEST(Browser, TheOnlyFolderOfTheHostIsSelectedForTheUser) {
  Sample s;
  Browser b("laptop");
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"Alpha", "docs", "link", "zeta"}));
  EXPECT_EQ(b.selected_folder(), s.home);
  // A host with two backed-up folders: the error names them (with the numbers SELECT FOLDER
  // takes) and nothing is chosen.
  uint32_t second = s.c.find_or_add_folder(s.host, "/srv");
  s.c.add_backup(second, s.c.backups[s.b3].time_ns + 1);
  s.c.build_child_index();
  Browser two("laptop");
  try {
    two.list_files(s.c);
    ADD_FAILURE() << "no error with two folders";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 /home/u, 3 /srv"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(two.selected_folder().has_value());
  Browser nobody("unknown");
  EXPECT_THROW_KIND(kInvalidInput, nobody.list_files(s.c));
}

TEST(Browser, SearchAndVersionsKeepToThePointInTime) {
  Sample s;
  Browser b("laptop");
  // a.txt: versions in b0 and b1. As of b0, only the b0 version is found.
  b.select_backup_number(s.c, 1);  // b0
  auto rows = b.search(s.c, "a.txt", false);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].version, s.a_v0);
  EXPECT_FALSE(rows[0].deleted_later);  // it exists as of b0
  EXPECT_EQ(rows[0].backup_number, 1);
  EXPECT_EQ(rows[0].host, "laptop");
  // As of b2 (docs deleted): both versions, marked as deleted by then.
  b.select_backup_number(s.c, 3);
  rows = b.search(s.c, "a.txt", false);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].deleted_later);
  // LIST VERSIONS shows the newer versions, marked.
  b.select_backup_number(s.c, 1);
  b.cd(s.c, "docs");
  auto versions = b.list_versions(s.c);
  size_t newer = 0;
  for (const auto& v : versions) newer += v.newer;
  EXPECT_GT(newer, 0u);
  EXPECT_LT(newer, versions.size());
}

TEST(Browser, CdTakesRelativeAndAbsolutePathsAndRefusesFiles) {
  Sample s;
  Browser b("laptop");
  b.select_folder(s.c, "/home/u");
  EXPECT_EQ(b.cd(s.c, "/home/u/docs"), "/home/u/docs");
  EXPECT_EQ(b.cd(s.c, "/"), "/home/u");
  EXPECT_EQ(b.cd(s.c, "docs/"), "/home/u/docs");
  EXPECT_EQ(b.cd(s.c, "../docs/.."), "/home/u");
  EXPECT_EQ(b.cd(s.c, "/docs"), "/home/u/docs");  // below the top of the folder
  EXPECT_THROW_KIND(kInvalidInput, b.cd(s.c, "/home/u/zeta"));
  EXPECT_THROW_KIND(kInvalidInput, b.cd(s.c, "../zeta"));
  EXPECT_THROW_KIND(kInvalidInput, b.cd(s.c, "/home/u/docs/new.txt"));
  EXPECT_THROW_KIND(kInvalidInput, b.cd(s.c, "new.txt"));
  EXPECT_THROW_KIND(kNotFound, b.cd(s.c, "docs/nosuch"));
  EXPECT_EQ(b.cwd_path(&s.c), "/home/u/docs");  // a failed CD leaves the current folder
}

TEST(Browser, ChangesOfABackup) {
  Sample s;
  Browser b("laptop");
  uint32_t at = 0;
  // b1 (#2): docs/a.txt changed, docs/b.txt and Alpha added.
  auto rows = b.list_changes(s.c, 2, at);
  EXPECT_EQ(at, s.b1);
  std::map<std::string, EntryRow::Change> got;
  for (const auto& r : rows) got[r.path] = r.change;
  EXPECT_EQ(got["/home/u/docs/a.txt"], EntryRow::Change::kChanged);
  EXPECT_EQ(got["/home/u/docs/b.txt"], EntryRow::Change::kAdded);
  EXPECT_EQ(got["/home/u/Alpha"], EntryRow::Change::kAdded);
  // b2 (#3): docs and what it held, and zeta, deleted; the rows keep the deleted versions.
  rows = b.list_changes(s.c, 3, at);
  got.clear();
  for (const auto& r : rows) got[r.path] = r.change;
  EXPECT_EQ(got["/home/u/zeta"], EntryRow::Change::kDeleted);
  EXPECT_EQ(got["/home/u/docs"], EntryRow::Change::kDeleted);
  for (const auto& r : rows)
    if (r.path == "/home/u/zeta") {
      EXPECT_EQ(r.kind, EntryRow::Kind::kFile);
    }
  // The default: the newest backup of this host's folder (b3); with a restore timestamp,
  // the newest at or before it.
  b.list_changes(s.c, 0, at);
  EXPECT_EQ(at, s.b3);
  b.set_time(s.c.backups[s.b1].time_ns);
  b.list_changes(s.c, 0, at);
  EXPECT_EQ(at, s.b1);
  b.set_time(std::nullopt);
  EXPECT_THROW_KIND(kInvalidInput, b.list_changes(s.c, 9, at));
  // A deleted folder's row is restored as of the backup before the deletion (b1).
  rows = b.list_changes(s.c, 3, at);
  for (const auto& r : rows)
    if (r.path == "/home/u/docs") {
      EXPECT_EQ(r.as_of, s.b1);
    }
}

TEST(Browser, BackupRowsCountFilesInTheBackup) {
  Sample s;
  Browser b("laptop");
  auto rows = b.backups(s.c);
  ASSERT_EQ(rows.size(), 5u);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].number, static_cast<int>(i + 1));
  // b0: docs/a.txt, link, zeta; b2: link and Alpha only.
  EXPECT_EQ(rows[0].backup, s.b0);
  EXPECT_EQ(rows[0].files_total, 3u);
  EXPECT_EQ(rows[2].backup, s.b2);
  EXPECT_EQ(rows[2].files_total, 2u);
  b.select_host(s.c, "server");
  EXPECT_EQ(b.backups(s.c).front().number, 5);  // numbers stay what they are within a selection
}

TEST(Browser, CdByNameAndByRowAndVersions) {
  Sample s;
  Browser b("laptop");
  b.select_folder(s.c, "/home/u");
  EXPECT_EQ(b.cd(s.c, "docs"), "/home/u/docs");
  EXPECT_EQ(paths(b.list_files(s.c)), std::vector<std::string>{"new.txt"});
  EXPECT_EQ(b.cd(s.c, ".."), "/home/u");
  EXPECT_EQ(b.cd(s.c, ".."), "/home/u");  // not above the folder
  EXPECT_THROW_KIND(kNotFound, b.cd(s.c, "nosuch"));
  EXPECT_THROW_KIND(kInvalidInput, b.cd(s.c, "zeta"));  // a file
  auto rows = b.list_files(s.c);
  EXPECT_EQ(b.cd_number(s.c, 2), "/home/u/docs");  // a folder of the last listing is entered
  b.cd(s.c, "/");
  b.list_files(s.c);
  EXPECT_EQ(b.cd_number(s.c, 4), "/home/u/zeta");  // a file is picked
  auto versions = b.list_versions(s.c);
  ASSERT_EQ(versions.size(), 3u);  // zeta: b3, deleted in b2, b0
  EXPECT_EQ(versions[1].kind, EntryRow::Kind::kDeleted);
  EXPECT_THROW_KIND(kInvalidInput, b.cd_number(s.c, 9));
}

TEST(Browser, SearchFindsEveryVersionInScope) {
  Sample s;
  Browser b("laptop");
  auto rows = b.search(s.c, "A.TXT", false);  // case-insensitive
  ASSERT_EQ(rows.size(), 2u);                 // a.txt in b0 and b1
  EXPECT_TRUE(rows[0].deleted_later);
  EXPECT_EQ(rows[0].path, "/home/u/docs/a.txt");
  EXPECT_EQ(b.search(s.c, "^/etc/", true).size(), 1u);
  b.select_host(s.c, "laptop");
  EXPECT_TRUE(b.search(s.c, "passwd", false).empty());
  EXPECT_THROW_KIND(kInvalidInput, b.search(s.c, "(", true));
}

TEST(RestorePlan, ResolvesSelectionsParentsFirstTheLaterWinning) {
  Sample s;
  Browser b("laptop");
  RestorePlan p;
  EXPECT_THROW_KIND(kInvalidInput, p.resolve(s.c, b));
  b.select_folder(s.c, "/home/u");
  p.add_tree(s.c, b);  // as of b3
  auto items = p.resolve(s.c, b);
  ASSERT_EQ(items.size(), 6u);  // root, Alpha, docs, new.txt, link, zeta
  EXPECT_EQ(items[0].entry, s.root);
  b.set_time(s.c.backups[s.b1].time_ns);
  items = p.resolve(s.c, b);
  bool saw_a = false;
  for (const auto& it : items)
    if (it.entry == s.a) {
      saw_a = true;
      EXPECT_EQ(it.version, s.a_v1);
    }
  EXPECT_TRUE(saw_a);
  EXPECT_EQ(p.describe(s.c), std::vector<std::string>{"tree    /home/u"});
  EXPECT_THROW_KIND(kInvalidInput, p.set_target("relative"));
  p.set_target("/tmp/x");
  EXPECT_EQ(p.target(), "/tmp/x");
}

TEST(RestorePlan, BareMetalTakesEveryFolderOfTheHost) {
  Sample s;
  Browser b("server");
  RestorePlan p;
  p.add_baremetal(s.c, b, "server");
  auto items = p.resolve(s.c, b);
  EXPECT_EQ(items.size(), 3u);  // /, /etc, /etc/passwd
  RestorePlan none;
  EXPECT_THROW_KIND(kNotFound, none.add_baremetal(s.c, Browser("unknown"), "unknown"));
}

TEST(RestorePlan, BareMetalAsOfATimeLeavesOutFoldersWithoutABackupByThen) {
  Sample s;
  uint32_t srv = s.c.find_or_add_folder(s.host, "/srv");
  uint32_t late = s.c.add_backup(srv, s.c.backups[s.b3].time_ns + 1000);
  s.c.add_version(s.c.folders[srv].root, catalog::test::dir_version(late));
  s.c.build_child_index();
  Browser b("laptop");
  RestorePlan p;
  p.add_baremetal(s.c, b, "laptop");
  EXPECT_EQ(p.resolve(s.c, b).size(), 7u);  // /home/u's 6 and /srv
  b.set_time(s.c.backups[s.b3].time_ns);    // before /srv was first backed up
  auto items = p.resolve(s.c, b);
  EXPECT_EQ(items.size(), 6u);
  for (const auto& it : items) EXPECT_NE(it.entry, s.c.folders[srv].root);
  b.set_time(1);  // before every backup: nothing at all is an error
  EXPECT_THROW_KIND(kNotFound, p.resolve(s.c, b));
}

}  // namespace
}  // namespace seshat::session
