// Storage wrappers whose code does not fit in the header.
#include "seshat/storage/storage.h"

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

}  // namespace

std::unique_ptr<ObjectWriter> DryRunStorage::create(const std::string&) { return std::make_unique<NullWriter>(); }

}  // namespace seshat::storage
