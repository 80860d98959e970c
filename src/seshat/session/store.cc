#include "seshat/session/store.h"

#include <dirent.h>

#include <cstring>

#include "seshat/repo/repository.h"
#include "seshat/session/aws.h"
#include "seshat/storage/fault_storage.h"
#include "seshat/storage/local_storage.h"
#include "seshat/storage/retry.h"
#include "seshat/storage/s3_storage.h"
#include "seshat/storage/wrappers.h"

namespace seshat::session {

std::shared_ptr<storage::Storage> open_store(const Settings& s) {
  std::shared_ptr<storage::Storage> store;
  if (s.store == StoreKind::kS3) {
    storage::S3Options o = s3_options(s);
    o.upload_limit = std::make_shared<storage::RateLimiter>(s.limit_upload);
    o.download_limit = std::make_shared<storage::RateLimiter>(s.limit_download);
    store = std::make_shared<storage::S3Storage>(std::move(o));
  } else {
    store = std::make_shared<storage::LocalStorage>(s.local_dir);
    if (s.limit_upload || s.limit_download)  // below the retries: a retried request counts again
      store = std::make_shared<storage::ThrottledStorage>(store, s.limit_upload, s.limit_download);
  }
  store = std::make_shared<storage::RetryingStorage>(store, retry_options());
  // Test hook above the retries (an injected fault is what the caller sees); a no-op unless
  // SESHAT_FAULTS or SESHAT_IO_LOG is set.
  store = storage::FaultStorage::wrap_from_env(store);
  // A clear message for a missing bucket or bad credentials, before anything else.
  store->check();
  if (s.delay) store = std::make_shared<storage::StagingStorage>(store, s.staging);
  if (s.dry_run) store = std::make_shared<storage::DryRunStorage>(store);
  return store;
}

bool store_is_empty(storage::Storage& store, const Settings& s) {
  if (s.store == StoreKind::kS3) return store.list("seshat/").empty() && store.list(repo::kContainerPrefix).empty();
  DIR* d = ::opendir(s.local_dir.c_str());
  if (!d) return true;
  bool empty = true;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  ::closedir(d);
  return empty;
}

}  // namespace seshat::session
