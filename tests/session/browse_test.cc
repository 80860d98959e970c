// The browsing state and the restore plan on the shared catalog fixture: no store, no shell.
#include "seshat/session/browse.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(b.backups(s.c).front().backup, s.b4);  // by time: the etc backup is the oldest
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
  EXPECT_THROW_KIND(kInvalidInput, b.list_files(s.c));  // no folder selected
  b.select_folder(s.c, "/home/u/");
  // The newest backup (b3): docs/ back with new.txt, zeta back, link, Alpha.
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"Alpha", "docs", "link", "zeta"}));
  EXPECT_EQ(paths(b.list_tree(s.c)), (std::vector<std::string>{"Alpha", "docs", "new.txt", "link", "zeta"}));
  // As of b2 (docs and zeta deleted).
  b.select_backup_number(s.c, 3);  // numbered within the selected folder: b0, b1, b2
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"Alpha", "link"}));
  // As of b0 through the timestamp, which wins over the selected backup.
  b.set_time(s.c.backups[s.b0].time_ns);
  EXPECT_EQ(paths(b.list_files(s.c)), (std::vector<std::string>{"docs", "link", "zeta"}));
  b.set_time(1);  // before every backup of the folder
  EXPECT_THROW_KIND(kNotFound, b.list_files(s.c));
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

}  // namespace
}  // namespace seshat::session
