// The BlobWriter over containers in the store (blob_writer.h): one container open at a
// time, blobs placed at its end under the caller's lock and written in placement order
// outside it, so that one thread copies bytes while others compress and encrypt.
#include <condition_variable>
#include <exception>
#include <mutex>

#include "seshat/container/container.h"
#include "seshat/repo/internal.h"
#include "seshat/util/fault.h"
#include "seshat/util/log.h"

namespace seshat::repo {

struct ContentHash::Impl {
  crypto::Sha256 sha;
};
ContentHash::ContentHash() : impl_(std::make_unique<Impl>()) {}
ContentHash::~ContentHash() = default;
void ContentHash::update(std::string_view data) { impl_->sha.update(data); }
catalog::Hash ContentHash::finish() { return impl_->sha.finish(); }
catalog::Hash ContentHash::of(std::string_view data) { return crypto::sha256(data); }

namespace {

// An index keeps at most this many bytes in memory before the container is closed: with
// ~150 bytes a file, ~100,000 small files a container.
constexpr size_t kMaxIndexBytes = 16u << 20;

class ContainerBlobWriter : public BlobWriter {
 public:
  ContainerBlobWriter(storage::Storage& store, const crypto::Keys& keys, ContainerOrigin origin, uint64_t max_container,
                      Hooks hooks)
      : store_(store), keys_(keys), origin_(std::move(origin)), max_(max_container), hooks_(std::move(hooks)) {}
  ~ContainerBlobWriter() override {
    if (out_) {
      try {
        out_->abort();
      } catch (...) {
      }
    }
  }

  size_t buffer_size(size_t max_blob) const override { return container::blob_buffer_size(max_blob); }

  void seal(std::string_view plain, SealedBuffer& out) override {
    container::SealedBlob b;
    b.ciphertext = std::move(out.bytes);
    container::seal_blob_into(keys_, plain, b);
    out.bytes = std::move(b.ciphertext);
    out.iv = b.iv;
    out.mac = b.mac;
    out.raw_size = b.raw_size;
    out.compressed = b.compressed;
  }

  Placement place(const SealedBuffer& blob, const BlobOrigin& origin) override {
    if (out_ && builder_->count() > 0 &&
        (builder_->size() + blob.bytes.size() > max_ || builder_->index_size() > kMaxIndexBytes))
      close(true);
    if (!out_) open();
    container::FileInfo fi;
    fi.path = std::string(origin.path);
    fi.part = origin.part;
    fi.parts = origin.parts;
    fi.file_size = origin.file_size;
    fi.mtime_ns = origin.mtime_ns;
    fi.mode = origin.mode;
    fi.uid = origin.uid;
    fi.gid = origin.gid;
    fi.hash = origin.hash;
    container::BlobLocation loc =
        builder_->add(blob.bytes.size(), blob.raw_size, blob.compressed, blob.iv, blob.mac, fi);
    return {blob_ref(id_, loc), placed_++};
  }

  void write(const Placement& p, std::string_view bytes) override {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return written_ == p.turn || failure_; });
    if (failure_) std::rethrow_exception(failure_);
    lk.unlock();
    try {
      out_->write(bytes);
      fault::point("container.append");
    } catch (...) {
      lk.lock();
      if (!failure_) failure_ = std::current_exception();
      cv_.notify_all();
      throw;
    }
    lk.lock();
    ++written_;
    cv_.notify_all();
  }

  void abandon(const Placement&) override {
    std::lock_guard<std::mutex> lk(mu_);
    if (!failure_)
      failure_ =
          std::make_exception_ptr(Error(ErrorKind::kPermanent, "a blob was placed in the container but not written"));
    cv_.notify_all();
  }

  void finish() override {
    if (out_) close(false);
  }

 private:
  void open() {
    // Never reuse a name: a backup in the same second, or a container left by an interrupted
    // one, must not be overwritten.
    do {
      name_ = container_name(origin_.host, origin_.folder, origin_.backup_ns, seq_++);
    } while (store_.head(name_).has_value());
    log::info("Opening container file: {}", name_.substr(name_.rfind('/') + 1));
    out_ = store_.create(name_, storage::ObjectClass::kData);
    builder_.emplace(container::Origin{origin_.host, origin_.folder, origin_.backup_ns});
    builder_->reserve_index(kMaxIndexBytes + (64 << 10));  // the most it holds: never moved
    out_->write(builder_->header());
    id_ = hooks_.opened ? hooks_.opened(name_) : 0;
  }

  // Waits until every placed blob is written. REQUIRES: the caller's lock (no new placements).
  void wait_written() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return written_ == placed_ || failure_; });
    if (failure_) std::rethrow_exception(failure_);
  }

  void close(bool full) {
    std::string shortname = name_.substr(name_.rfind('/') + 1);
    size_t files = builder_->count();
    wait_written();
    fault::point("container.before_commit");
    if (hooks_.may_commit && !hooks_.may_commit())
      throw Error(ErrorKind::kLocked,
                  "the DB lock of this backup was removed by another process (DB UNLOCK) or taken over; stopped "
                  "without writing more");
    builder_->finish_to(keys_, [&](std::string_view piece) { out_->write(piece); });
    out_->commit();
    uint64_t size = out_->size();
    out_.reset();
    builder_.reset();
    fault::point("container.committed");
    if (full) log::info("Container is full {} size {} files {}", shortname, size, files);
    log::info("Closed container: {}", shortname);
    if (hooks_.committed) hooks_.committed(id_, size, files, full);
  }

  storage::Storage& store_;
  const crypto::Keys& keys_;
  const ContainerOrigin origin_;
  const uint64_t max_;
  const Hooks hooks_;
  // Under the caller's lock:
  std::unique_ptr<storage::ObjectWriter> out_;
  std::optional<container::Builder> builder_;
  std::string name_;
  uint32_t id_ = 0;
  int seq_ = 0;
  uint64_t placed_ = 0;
  // Under mu_ (never held while taking the caller's lock):
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_ = 0;
  std::exception_ptr failure_;
};

}  // namespace

std::unique_ptr<BlobWriter> make_container_writer(storage::Storage& store, const crypto::Keys& keys,
                                                  const ContainerOrigin& origin, uint64_t max_container,
                                                  BlobWriter::Hooks hooks) {
  return std::make_unique<ContainerBlobWriter>(store, keys, origin, max_container, std::move(hooks));
}

}  // namespace seshat::repo
