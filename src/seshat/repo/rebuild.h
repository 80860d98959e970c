// DB REBUILD: recreates a catalog from the containers' own encrypted indexes, for when every
// catalog generation is lost or damaged. What containers do not record cannot come back:
// deletions (a file deleted between backups stays present until its next version),
// directories' own metadata, symlinks and empty files. The result says how much was found.
#pragma once
#include <cstddef>

#include "seshat/catalog/catalog.h"
#include "seshat/repo/repository.h"

namespace seshat::repo {

struct RebuildResult {
  size_t containers = 0, unreadable = 0, without_origin = 0;
  size_t backups = 0, files = 0, incomplete_files = 0;
};

RebuildResult rebuild_catalog(Repository& repo, catalog::Catalog& out);

// What an interrupted backup left in the store that the catalog does not know.
struct TidyResult {
  size_t containers = 0;         // complete containers adopted into the catalog
  size_t contents = 0;           // file contents they hold that the catalog now knows
  size_t unreadable = 0;         // unreferenced containers whose index cannot be read (left alone)
  storage::Leftovers leftovers;  // temporary objects / unfinished uploads removed
};

// Run at the start of a backup, holding the DB lock. A backup killed between writing a
// container and saving the catalog leaves a complete container no catalog generation refers
// to: its index is read and its whole-file contents are added to the catalog (no file
// versions), so that the next backup finds them by hash instead of uploading them again.
// Temporary files and unfinished multipart uploads under containers/ and the catalog's
// directory are removed. Nothing referenced is ever touched.
TidyResult tidy_after_interrupted(Repository& repo, catalog::Catalog& cat);

}  // namespace seshat::repo
