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

// DB REBUILD cannot know the whole-file hash of a file stored in parts: it gives such a
// content a stand-in (unique per file, from the parts' MACs) that starts with this mark, so
// that a restore knows it cannot compare a file on disk with it. A real SHA-256 starts so
// with probability 2^-96.
constexpr std::string_view kRebuiltMark{"seshat-rebuilt", 12};
inline bool is_rebuilt_stand_in(const catalog::Hash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), kRebuiltMark.size()) == kRebuiltMark;
}

}  // namespace seshat::repo
