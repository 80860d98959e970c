// Storage wrappers whose code does not fit in the header.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <chrono>

#include "seshat/storage/storage.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::storage {
namespace {

// Counts what would have been written and keeps nothing.
class NullWriter : public ObjectWriter {
 public:
  void write(std::string_view data) override { size_ += data.size(); }
  uint64_t size() const override { return size_; }
  void commit() override {}
  void abort() override {}

 private:
  uint64_t size_ = 0;
};

// Writes to a file in the staging directory; commit() uploads it in chunks.
class StagedWriter : public ObjectWriter {
 public:
  StagedWriter(Storage& inner, std::string name, const std::string& dir) : inner_(inner), name_(std::move(name)) {
    static std::atomic<int> counter{0};
    std::string base = name_.substr(name_.rfind('/') + 1);
    path_ = dir + "/" + base + ".seshat-staging-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) throw_errno(ErrorKind::kPermanent, "cannot create the staging file " + path_, errno);
  }
  ~StagedWriter() override { abort(); }
  void write(std::string_view data) override {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(ErrorKind::kPermanent, "cannot write the staging file " + path_, errno);
      }
      off += static_cast<size_t>(n);
    }
    size_ += data.size();
  }
  uint64_t size() const override { return size_; }
  void commit() override {
    auto out = inner_.create(name_);
    log::info("Uploading multipart part file {}/{} size {}", inner_.describe(), name_, human_size(size_));
    log::info("Transfer started. Size {}", human_size(size_));
    auto start = std::chrono::steady_clock::now();
    std::string buf(8u << 20, '\0');
    uint64_t done = 0;
    int decile = 0;
    while (done < size_) {
      ssize_t n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(ErrorKind::kPermanent, "cannot read the staging file " + path_, errno);
      }
      if (n == 0) throw Error(ErrorKind::kPermanent, "the staging file " + path_ + " shrank");
      out->write(std::string_view(buf.data(), static_cast<size_t>(n)));
      done += static_cast<uint64_t>(n);
      int d = static_cast<int>(done * 10 / size_);
      if (d > decile && d < 10) {
        decile = d;
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log::info("Transferred {} of {} ({}/s)", human_size(done), human_size(size_),
                  human_size(static_cast<uint64_t>(static_cast<double>(done) / std::max(secs, 0.001))));
      }
    }
    out->commit();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("Transfer complete. Size {} in {:.1f} s ({}/s)", human_size(size_), secs,
              human_size(static_cast<uint64_t>(static_cast<double>(size_) / std::max(secs, 0.001))));
    abort();  // removes the staging file
  }
  void abort() override {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(path_.c_str());
      fd_ = -1;
    }
  }

 private:
  Storage& inner_;
  std::string name_, path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace

std::unique_ptr<ObjectWriter> StagingStorage::create(const std::string& name) {
  return std::make_unique<StagedWriter>(*inner_, name, dir_);
}

Leftovers StagingStorage::remove_incomplete(const std::string& prefix) {
  Leftovers out = inner_->remove_incomplete(prefix);
  if (prefix != "containers/") return out;  // staging holds containers only: look once
  Leftovers staged = remove_files_of_gone_processes(dir_, ".seshat-staging-");
  out.objects += staged.objects;
  out.bytes += staged.bytes;
  return out;
}

std::unique_ptr<ObjectWriter> DryRunStorage::create(const std::string&) { return std::make_unique<NullWriter>(); }

}  // namespace seshat::storage
