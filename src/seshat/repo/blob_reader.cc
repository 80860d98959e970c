// The BlobReader over containers in the store (blob_reader.h).
#include <algorithm>
#include <atomic>

#include "seshat/container/container.h"
#include "seshat/repo/internal.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/workers.h"

namespace seshat::repo {

std::vector<PlannedRead> plan_reads(const std::vector<BlobRequest>& requests, const ReadPlan& plan) {
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const catalog::BlobRef& x = *requests[a].ref;
    const catalog::BlobRef& y = *requests[b].ref;
    return std::tie(x.container, x.offset) < std::tie(y.container, y.offset);
  });
  std::vector<PlannedRead> reads;
  for (size_t i : order) {
    const catalog::BlobRef& r = *requests[i].ref;
    uint64_t start = r.offset, end = r.offset + r.length;
    if (!reads.empty()) {
      PlannedRead& last = reads.back();
      if (last.container == r.container && start >= last.end && start - last.end <= plan.max_gap &&
          end - last.start <= plan.max_range) {
        last.end = end;
        last.members.push_back(i);
        continue;
      }
      // The same blob twice (two files with one content): read with the range holding it.
      if (last.container == r.container && start >= last.start && end <= last.end) {
        last.members.push_back(i);
        continue;
      }
    }
    reads.push_back({r.container, start, end, {i}});
  }
  return reads;
}

namespace {

std::string short_name(const std::string& n) { return n.substr(n.rfind('/') + 1); }

class StoreBlobReader : public BlobReader {
 public:
  StoreBlobReader(storage::Storage& store, const crypto::Keys& keys, const catalog::Catalog& cat, ReadPlan plan)
      : store_(store), keys_(keys), cat_(cat), plan_(plan) {}

  void read(std::vector<BlobRequest> requests, int threads, const Sink& sink) override {
    std::vector<PlannedRead> reads = plan_reads(requests, plan_);
    std::atomic<size_t> next{0};
    run_on_threads(std::max(1, threads), [&] {
      for (;;) {
        size_t i = next++;
        if (i >= reads.size()) return;
        fetch(requests, reads[i], sink);
      }
    });
  }

 private:
  void fetch(const std::vector<BlobRequest>& requests, const PlannedRead& read, const Sink& sink) {
    const std::string& cname = cat_.containers[read.container].name;
    // Each thread keeps its buffers from read to read: no fresh pages, no zero-fill.
    thread_local struct {
      std::string range;
      container::OpenBuffers open;
    } bufs;
    const Error stopped(ErrorKind::kInterrupted, "interrupted");
    std::optional<Error> problem;
    if (interrupted()) {
      problem = stopped;
    } else {
      try {
        store_.read_range(cname, read.start, read.end - read.start, bufs.range);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kUnreachable) throw;  // no blob can come: the whole read stops
        problem = e;
      }
      if (!problem && interrupted()) problem = stopped;
    }
    // A read of several neighbouring blobs that failed (a truncated or partly unreadable
    // container): each blob on its own, so that those that are intact still come back.
    bool one_by_one = problem && problem->kind() != ErrorKind::kInterrupted && read.members.size() > 1;
    std::string own;
    for (size_t m : read.members) {
      const BlobRequest& rq = requests[m];
      const catalog::BlobRef& ref = *rq.ref;
      std::string_view stored;
      if (one_by_one) {
        if (interrupted()) {
          sink.failed(rq.tag, stopped);
          continue;
        }
        try {
          store_.read_range(cname, ref.offset, ref.length, own);
          stored = std::string_view(own).substr(0, ref.length);
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::kUnreachable) throw;
          sink.failed(rq.tag, e);
          continue;
        }
      } else if (problem) {
        sink.failed(rq.tag, *problem);
        continue;
      } else {
        stored = std::string_view(bufs.range).substr(ref.offset - read.start, ref.length);
      }
      std::string_view plain;
      try {
        plain = container::open_blob_into(keys_, blob_location(ref), stored, bufs.open);
      } catch (const Error& e) {
        sink.failed(rq.tag, Error(ErrorKind::kCorruption, std::string(e.what()) + " in " + short_name(cname)));
        continue;
      }
      sink.blob(rq.tag, plain);
    }
  }

  storage::Storage& store_;
  const crypto::Keys& keys_;
  const catalog::Catalog& cat_;
  const ReadPlan plan_;
};

}  // namespace

std::unique_ptr<BlobReader> make_store_reader(storage::Storage& store, const crypto::Keys& keys,
                                              const catalog::Catalog& cat, const ReadPlan& plan) {
  return std::make_unique<StoreBlobReader>(store, keys, cat, plan);
}

}  // namespace seshat::repo
