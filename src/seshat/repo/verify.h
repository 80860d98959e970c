// VERIFY: checks the catalog against the store. Every referenced container must exist with
// its recorded size and an index that lists each blob the catalog points at; with `data`,
// blobs are downloaded and authenticated too (all, or a random share). Every problem is
// reported by container and by the files and backups it damages.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/repo/repository.h"

namespace seshat::repo {

struct VerifyOptions {
  bool data = false;
  double percent = 100.0;  // with data: the share of blobs to download
};

struct VerifyResult {
  size_t containers = 0;
  size_t blobs_checked = 0;  // indexes compared
  size_t blobs_read = 0;     // downloaded and authenticated
  size_t generations = 0;
  size_t problems = 0;
  size_t unreferenced = 0;                 // containers no generation refers to (left by interrupted backups)
  std::vector<std::string> damaged_files;  // "path (version of <date>)"
};

VerifyResult verify(Repository& repo, const catalog::Catalog& cat, const VerifyOptions& options);

}  // namespace seshat::repo
