#include "seshat/restore/dest_dirs.h"

#include "seshat/fs/fs.h"
#include "seshat/restore/restore.h"

namespace seshat::restore {

seshat::Result<DestDirs::Handle> DestDirs::get(uint32_t entry, bool create) {
  std::lock_guard<std::mutex> lk(mu_);
  if (auto it = open_.find(entry); it != open_.end()) {
    if (create) sweep(entry, it->second->get());  // first opened only to look (screening)
    return it->second;
  }
  // The entries from here up to the nearest open one (or the folder's root), opened downwards.
  std::vector<uint32_t> chain;
  Handle above;
  for (uint32_t e = entry; e != catalog::kNone; e = cat_.entries[e].parent) {
    if (auto it = open_.find(e); it != open_.end()) {
      above = it->second;
      break;
    }
    chain.push_back(e);
  }
  for (size_t i = chain.size(); i-- > 0;) {
    auto h = open_one(chain[i], above, create);
    if (!h) return h.error();
    above = std::move(h.value());
  }
  trim();
  return above;
}

seshat::Result<DestDirs::Handle> DestDirs::open_one(uint32_t entry, const Handle& parent, bool create) {
  bool created = false;
  seshat::Result<io::Fd> fd = parent
                                  ? fs::open_dir_at(parent->get(), std::string(cat_.name(entry)), create, &created)
                                  : fs::open_dir_trusted(destination(std::string(cat_.name(entry)), target_), create);
  if (!fd) return fd.error();
  if (swept_.size() <= entry) swept_.resize(cat_.entries.size());
  if (created) swept_[entry] = true;  // nothing to sweep in a new directory
  // Only a restore that writes sweeps: looking (a dry run, the screening before a restore)
  // changes nothing.
  if (create) sweep(entry, fd->get());
  auto h = std::make_shared<const io::Fd>(std::move(fd.value()));
  open_.emplace(entry, h);
  return h;
}

void DestDirs::sweep(uint32_t entry, int fd) {
  if (swept_.size() <= entry) swept_.resize(cat_.entries.size());
  if (swept_[entry]) return;
  leftovers_ += fs::remove_restore_leftovers(fd);
  swept_[entry] = true;
}

// Idle handles (nobody else holds them) go once there are too many: a restore of many
// directories must not run out of file descriptors.
void DestDirs::trim() {
  if (open_.size() <= kKeep) return;
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.use_count() == 1)
      it = open_.erase(it);
    else
      ++it;
  }
}

size_t DestDirs::leftovers_removed() const {
  std::lock_guard<std::mutex> lk(mu_);
  return leftovers_;
}

}  // namespace seshat::restore
