// The directories of a restore's destination, opened so that nobody who can write in the
// tree can steer the restore through a symlink (fs.h, "writing"): the folder's own path is
// resolved from "/" with open_dir_trusted, every directory below it relative to its parent
// with open_dir_at, made (0700) where missing. Handles stay open while files are written in
// them; at most kKeep idle ones are kept. Thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/util/error.h"
#include "seshat/util/io.h"

namespace seshat::restore {

class DestDirs {
 public:
  using Handle = std::shared_ptr<const io::Fd>;
  static constexpr size_t kKeep = 2048;

  DestDirs(const catalog::Catalog& cat, std::string target) : cat_(cat), target_(std::move(target)) {}

  // The directory of directory entry `entry`, made with its missing parents if create. With
  // create (a restore that writes), a directory that was there already is cleared of the
  // temporaries killed restores left in it, once; without, nothing is changed.
  seshat::Result<Handle> get(uint32_t entry, bool create);
  // Temporaries of killed restores removed so far.
  size_t leftovers_removed() const;

 private:
  seshat::Result<Handle> open_one(uint32_t entry, const Handle& parent, bool create);
  void trim();
  void sweep(uint32_t entry, int fd);  // REQUIRES: mu_ held

  const catalog::Catalog& cat_;
  const std::string target_;
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, Handle> open_;
  std::vector<bool> swept_;
  size_t leftovers_ = 0;
};

}  // namespace seshat::restore
