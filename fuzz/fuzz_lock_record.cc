// repo::LockRecord::from_json on untrusted text (a lock object another process, or a damaged
// store, left behind). On a record it accepts: describe() (which the WARN/ERROR messages
// print) and a to_json()/from_json() round trip must work.
//
// Contract checked: from_json throws only Error(kCorruption).
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "seshat/repo/lock.h"
#include "seshat/util/error.h"

using namespace seshat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  repo::LockRecord r;
  try {
    r = repo::LockRecord::from_json(text);
  } catch (const Error& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kCorruption);
    return 0;
  }
  std::string d = r.describe();
  FUZZ_CHECK(!d.empty());
  repo::LockRecord back;
  try {
    back = repo::LockRecord::from_json(r.to_json());
  } catch (const Error& e) {
    fuzz_fail(__FILE__, __LINE__, (std::string("to_json() of an accepted record is rejected: ") + e.what()).c_str());
  }
  FUZZ_CHECK(back.id == r.id && back.host == r.host && back.pid == r.pid && back.user == r.user &&
             back.started_ns == r.started_ns && back.lease_until_ns == r.lease_until_ns);
  return 0;
}
