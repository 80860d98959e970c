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

}  // namespace seshat::repo
