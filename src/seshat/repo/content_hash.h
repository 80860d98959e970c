// The catalog's content hash of a file (SHA-256 of its plaintext): what backup deduplicates
// whole files by and what a restore compares an existing file with.
#pragma once
#include <memory>
#include <string_view>

#include "seshat/catalog/catalog.h"

namespace seshat::repo {

// SHA-256 of a file's content (the catalog's content hash, for file-level dedup).
class ContentHash {
 public:
  ContentHash();
  ~ContentHash();
  ContentHash(const ContentHash&) = delete;
  ContentHash& operator=(const ContentHash&) = delete;
  void update(std::string_view data);
  catalog::Hash finish();
  static catalog::Hash of(std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seshat::repo
