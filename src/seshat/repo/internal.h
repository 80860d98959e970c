// Inside the repo module only: the implementations behind Repository's factories.
#pragma once
#include <memory>

#include "seshat/crypto/crypto.h"
#include "seshat/repo/repository.h"
#include "seshat/storage/storage.h"

namespace seshat::repo {

std::unique_ptr<BlobWriter> make_container_writer(storage::Storage& store, const crypto::Keys& keys,
                                                  const ContainerOrigin& origin, uint64_t max_container,
                                                  BlobWriter::Hooks hooks);
std::unique_ptr<BlobReader> make_store_reader(storage::Storage& store, const crypto::Keys& keys,
                                              const catalog::Catalog& cat, const ReadPlan& plan);

}  // namespace seshat::repo
