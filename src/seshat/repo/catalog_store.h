// Where the catalog lives in the store: loading the newest readable generation and
// committing a new one (doc/format/README.md). Session and backup see only this interface.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"

namespace seshat::repo {

class CatalogStore {
 public:
  virtual ~CatalogStore() = default;
  // The newest readable catalog; an empty one in a new repository. A damaged newest
  // generation is reported (WARN, by name) and the one before it used.
  virtual catalog::Catalog load() = 0;
  // Commits what `catalog` changed since it was loaded or last saved, after the generation
  // last loaded or saved, with a conditional create: a concurrent writer is never
  // overwritten; with may_retry this writer's changes are placed after it and committed
  // again, else Error(kLocked). Old generations beyond the kept ones are removed afterwards.
  // Returns the stored size of what was written.
  virtual uint64_t save(catalog::Catalog& catalog, bool may_retry) = 0;
  // True if the store holds a newer generation than the one last loaded or saved.
  virtual bool changed() = 0;
};

struct GenerationInfo {
  uint64_t number = 0;
  std::string name;
  uint64_t size = 0;
  std::string etag;  // as listed (S3), for the local cache; else empty
};

}  // namespace seshat::repo
