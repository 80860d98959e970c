// Storage wrappers whose code does not fit in the header.
#include "seshat/storage/wrappers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <thread>

#include "seshat/storage/local_storage.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/io.h"
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

// Writes to a temporary file in the staging directory (never put in place: it is uploaded by
// commit(), then removed); commit() uploads it in chunks.
class StagedWriter : public ObjectWriter {
 public:
  StagedWriter(Storage& inner, std::string name, const std::string& dir) : inner_(inner), name_(std::move(name)) {
    AtomicFile::Options o;
    o.marker = ".seshat-staging-";
    o.sync = false;
    auto f = AtomicFile::create(dir + "/" + name_.substr(name_.rfind('/') + 1), o);
    if (!f)
      throw Error(ErrorKind::kPermanent,
                  std::string("cannot create the staging file in ") + dir + ": " + f.error().what());
    file_.emplace(std::move(f.value()));
  }
  ~StagedWriter() override { abort(); }
  void write(std::string_view data) override {
    if (!file_) throw Error(ErrorKind::kPermanent, "write after commit/abort");
    if (Status st = file_->write(data); !st)
      throw Error(ErrorKind::kPermanent,
                  "cannot write the staging file " + file_->temp_name() + ": " + st.error().what());
    size_ += data.size();
  }
  uint64_t size() const override { return size_; }
  void commit() override {
    auto out = inner_.create(name_, ObjectClass::kData);
    log::info("Uploading multipart part file {}/{} size {}", inner_.describe(), name_, human_size(size_));
    log::info("Transfer started. Size {}", human_size(size_));
    auto start = std::chrono::steady_clock::now();
    std::string buf(8u << 20, '\0');
    uint64_t done = 0;
    int decile = 0;
    while (done < size_) {
      auto n = io::pread_full(file_->fd(), buf.data(), buf.size(), done);
      if (!n)
        throw Error(ErrorKind::kPermanent,
                    "cannot read the staging file " + file_->temp_name() + ": " + n.error().what());
      if (*n == 0) throw Error(ErrorKind::kPermanent, "the staging file " + file_->temp_name() + " shrank");
      out->write(std::string_view(buf.data(), *n));
      done += *n;
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
  void abort() override { file_.reset(); }

 private:
  Storage& inner_;
  std::string name_;
  std::optional<AtomicFile> file_;
  uint64_t size_ = 0;
};

}  // namespace

// The staging area may be a directory everyone writes (/tmp): containers are staged in a
// directory of our own inside it, "seshat-<uid>", made with mode 0700 and checked to be a
// real directory that we own and nobody else can enter. If another user holds that name, a
// fresh one (mkdtemp) is used instead, with a WARN.
const std::string& StagingStorage::private_dir() {
  std::lock_guard<std::mutex> lk(mu_);
  if (!private_.empty()) return private_;
  const uid_t me = ::geteuid();
  std::string mine = dir_ + "/seshat-" + std::to_string(me);
  if (::mkdir(mine.c_str(), 0700) != 0 && errno != EEXIST)
    throw_errno(ErrorKind::kPermanent, "cannot create the staging directory " + mine, errno);
  // Checked and, if ours but opened up (e.g. by hand), closed again through a descriptor
  // opened without following a symlink: a name swapped in between is never chmod'ed.
  io::Fd fd(::open(mine.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (fd.get() >= 0 && ::fstat(fd.get(), &st) == 0 && st.st_uid == me) {
    if ((st.st_mode & 077) != 0) (void)::fchmod(fd.get(), 0700);
    if (::fstat(fd.get(), &st) == 0 && (st.st_mode & 077) == 0) {
      private_ = mine;
      return private_;
    }
  }
  std::string tmpl = mine + "-XXXXXX";
  if (!::mkdtemp(tmpl.data()))
    throw_errno(ErrorKind::kPermanent, "cannot create a staging directory in " + dir_, errno);
  log::warn("{} is not a private directory of this user; staging in {} instead", mine, tmpl);
  private_ = tmpl;
  fallback_ = true;
  return private_;
}

StagingStorage::~StagingStorage() {
  // A one-time directory, removed when empty (rmdir never follows a symlink).
  if (fallback_) (void)::rmdir(private_.c_str());
}

std::unique_ptr<ObjectWriter> StagingStorage::create(const std::string& name, ObjectClass cls) {
  if (cls != ObjectClass::kData) return inner_->create(name, cls);
  return std::make_unique<StagedWriter>(*inner_, name, private_dir());
}

Leftovers StagingStorage::remove_incomplete(const std::string& prefix) {
  Leftovers out = inner_->remove_incomplete(prefix);
  if (staging_tidied_.exchange(true)) return out;  // the staging directory is looked at once
  // Only our own directory, if it is there: a missing staging area has nothing to tidy.
  struct stat st;
  const std::string mine = dir_ + "/seshat-" + std::to_string(::geteuid());
  if (::lstat(mine.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    return out;
  Leftovers staged = remove_files_of_gone_processes(mine, ".seshat-staging-", true);
  out.objects += staged.objects;
  out.bytes += staged.bytes;
  return out;
}

std::unique_ptr<ObjectWriter> DryRunStorage::create(const std::string&, ObjectClass) {
  return std::make_unique<NullWriter>();
}

namespace {

class ThrottledWriter : public ObjectWriter {
 public:
  ThrottledWriter(std::unique_ptr<ObjectWriter> inner, std::shared_ptr<RateLimiter> up)
      : inner_(std::move(inner)), up_(std::move(up)) {}
  void write(std::string_view data) override {
    up_->take_sliced(data.size());
    inner_->write(data);
  }
  uint64_t size() const override { return inner_->size(); }
  void commit() override { inner_->commit(); }
  void abort() override { inner_->abort(); }

 private:
  std::unique_ptr<ObjectWriter> inner_;
  std::shared_ptr<RateLimiter> up_;
};

}  // namespace

void ThrottledStorage::put(const std::string& n, std::string_view d) {
  if (!exempt_from_limits(n)) up_->take_sliced(d.size());
  inner_->put(n, d);
}
bool ThrottledStorage::put_if_absent(const std::string& n, std::string_view d) {
  if (!exempt_from_limits(n)) up_->take_sliced(d.size());
  return inner_->put_if_absent(n, d);
}
bool ThrottledStorage::put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) {
  if (exempt_from_limits(n)) return inner_->put_if_absent_stream(n, p);
  return inner_->put_if_absent_stream(n, [&](const Sink& sink) {
    p([&](std::string_view piece) {
      up_->take_sliced(piece.size());
      sink(piece);
    });
  });
}
std::string ThrottledStorage::get(const std::string& n) {
  std::string s = inner_->get(n);
  if (!exempt_from_limits(n)) down_->take_sliced(s.size());
  return s;
}
// A range's length is known: its time is taken before it is read (a local read is
// immediate, so the wait is the pace).
std::string ThrottledStorage::get_range(const std::string& n, uint64_t o, uint64_t l) {
  down_->take_sliced(l);
  return inner_->get_range(n, o, l);
}
void ThrottledStorage::read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) {
  down_->take_sliced(l);
  inner_->read_range(n, o, l, b);
}
std::unique_ptr<ObjectWriter> ThrottledStorage::create(const std::string& n, ObjectClass c) {
  if (exempt_from_limits(n)) return inner_->create(n, c);
  return std::make_unique<ThrottledWriter>(inner_->create(n, c), up_);
}

}  // namespace seshat::storage
