// The store the settings name, with its wrappers (STYLE.md 2): retries around every store;
// the fault injection of the test campaigns (only when SESHAT_FAULTS or SESHAT_IO_LOG is set);
// staging for SET DELAY; discarding writes for SET DRYRUN.
#pragma once
#include <memory>

#include "seshat/session/settings.h"
#include "seshat/storage/storage.h"

namespace seshat::session {

// Throws Error with one clear line when an S3 store cannot be reached or refuses the
// credentials.
std::shared_ptr<storage::Storage> open_store(const Settings& s);
// True if the store holds nothing at all (a repository may be created in it).
bool store_is_empty(storage::Storage& store, const Settings& s);

}  // namespace seshat::session
