// Files we own, written atomically (STYLE.md 7): data goes to a temporary beside the target,
// which is put in place only by commit(): a crash leaves the old file or the new one, never
// a mix. The one implementation: the local store's objects, the settings file, staged
// containers and restored files all go through AtomicFile.
//
// The temporary is created with O_EXCL under an unpredictable name
// (<marker><pid>-<16 random hex digits>) with its final mode from the start, and checked
// with fstat to be the regular file just created: nobody else can have it open or have
// planted something at its name. The pid in the name lets a later run recognise the
// temporaries of a process that is gone (remove_files_of_gone_processes).
//
// Not thread-safe, except pwrite() of distinct ranges from several threads.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "seshat/util/error.h"
#include "seshat/util/io.h"

namespace seshat {

class AtomicFile {
 public:
  struct Options {
    mode_t mode = 0600;                   // the final file's permission bits
    std::string marker = ".seshat-tmp-";  // start of the temporary's name
    bool replace = true;                  // commit() replaces an existing file; false: keeps it (and says so)
    bool sync = true;                     // fsync the file, and the directory after the rename
  };

  // The temporary for `name` (one component) in the directory `dirfd`, which the caller keeps
  // open until commit() or abort().
  static Result<AtomicFile> create(int dirfd, std::string name, const Options& options);
  // The same for a path; its directory is opened (a path the caller trusts: our own store,
  // the settings file's home) and held by the AtomicFile.
  static Result<AtomicFile> create(const std::string& path, const Options& options);

  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();  // abort() unless committed

  int fd() const { return fd_.get(); }
  const std::string& temp_name() const { return temp_; }
  const std::string& name() const { return name_; }
  Status write(std::string_view data) { return io::write_full(fd_.get(), data); }
  Status pwrite(std::string_view data, uint64_t offset) { return io::pwrite_full(fd_.get(), data, offset); }
  // Puts the file in place. Returns false when !replace and a file of that name existed (the
  // temporary is removed, the existing file untouched). On any failure the temporary is gone.
  Result<bool> commit();
  // Removes the temporary; nothing is put in place.
  void abort();

 private:
  AtomicFile(int dirfd, io::Fd owned_dir, std::string name, std::string temp, io::Fd fd, const Options& o)
      : dirfd_(dirfd),
        owned_dir_(std::move(owned_dir)),
        name_(std::move(name)),
        temp_(std::move(temp)),
        fd_(std::move(fd)),
        replace_(o.replace),
        sync_(o.sync) {}
  int dirfd_;
  io::Fd owned_dir_;
  std::string name_, temp_;
  io::Fd fd_;
  bool replace_, sync_;
  bool done_ = false;
};

// 16 random hex digits from the kernel's generator (getrandom), for names nobody can guess.
std::string random_hex16();

// Writes a whole file atomically (AtomicFile with the default options).
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0600);
// Reads a whole file; Error(kNotFound) if it does not exist.
Result<std::string> read_file(const std::string& path);
// mkdir -p; directories it creates get `mode`.
Status make_dirs(const std::string& path, mode_t mode = 0700);

}  // namespace seshat
