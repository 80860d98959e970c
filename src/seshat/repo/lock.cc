#include "seshat/repo/lock.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "seshat/crypto/crypto.h"
#include "seshat/util/bytes.h"
#include "seshat/util/env.h"
#include "seshat/util/error.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/json_int.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::repo {
namespace {

std::string user_name() {
  if (auto u = env::get(env::kUser)) return *u;
  if (passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return std::to_string(getuid());
}

bool is_stale(const LockRecord& r, const std::string& my_host) {
  if (r.lease_until_ns < now_ns()) return true;
  if (r.host == my_host && r.pid > 0 && ::kill(static_cast<pid_t>(r.pid), 0) != 0 && errno == ESRCH) return true;
  return false;
}

// A record, or nullopt when it is damaged (a damaged record is stale).
std::optional<LockRecord> parse_record(const std::string& text) {
  try {
    return LockRecord::from_json(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

int64_t Lock::lease_ns() {
  // A test hook (doc/testing.md); at least a second, so that the renewal period is not zero.
  return env::get_int(env::kLockLeaseSeconds, 1, 86400).value_or(300) * 1000000000LL;
}

std::string LockRecord::to_json() const {
  nlohmann::json j;
  j["version"] = 1;
  j["id"] = id;
  j["host"] = host;
  j["pid"] = pid;
  j["user"] = user;
  j["started_ns"] = started_ns;
  j["lease_until_ns"] = lease_until_ns;
  return j.dump(2) + "\n";
}

LockRecord LockRecord::from_json(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    LockRecord r;
    if (json_int<int>(j, "version", "lock record") != 1)
      throw Error(ErrorKind::kCorruption, "lock record: unsupported version");
    r.id = j.at("id").get<std::string>();
    r.host = j.at("host").get<std::string>();
    r.pid = json_int<int64_t>(j, "pid", "lock record");
    r.user = j.at("user").get<std::string>();
    r.started_ns = json_int<int64_t>(j, "started_ns", "lock record");
    r.lease_until_ns = json_int<int64_t>(j, "lease_until_ns", "lock record");
    return r;
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kCorruption, "lock record is damaged");
  }
}

std::string LockRecord::describe() const {
  return fmt::format("host {} pid {} user {} since {}", host, pid, user, format_listing(started_ns));
}

Lock::Lock(std::shared_ptr<storage::Storage> store, LockRecord record, std::string name)
    : store_(std::move(store)), record_(std::move(record)), name_(std::move(name)) {
  renewer_ = std::thread([this] { renew_loop(); });
}

namespace {

// A sleep that ends early, with Error(kInterrupted), on Ctrl-C or SIGTERM.
void wait_for(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  for (;;) {
    if (interrupted()) throw Error(ErrorKind::kInterrupted, "interrupted while waiting for the DB lock");
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(50)));
  }
}

[[noreturn]] void throw_locked(const LockRecord& holder) {
  throw Error(ErrorKind::kLocked, "the DB is locked by " + holder.describe() +
                                      " (SET WAIT YES waits; DB UNLOCK removes a lock left by a crash)");
}

// A ticket's lease: short, so that a waiter that died (on another host, where its pid cannot
// be checked) holds up the queue for half a minute at most; rewritten every quarter of it.
int64_t ticket_lease_ns() { return std::min<int64_t>(Lock::lease_ns(), 30LL * 1000000000LL); }

// A waiter's place in the queue: seshat/queue/<started_ns, 20 digits>-<id>, holding its
// record with a lease of its own. Names sort in arrival order; the ticket is rewritten while
// the wait goes on, and removed when the wait ends (best effort: a ticket left behind by a
// killed waiter goes stale within ticket_lease_ns()).
class Ticket {
 public:
  Ticket(storage::Storage& store, LockRecord mine)
      : store_(store),
        mine_(std::move(mine)),
        name_(fmt::format("{}{:020}-{}", kQueuePrefix, mine_.started_ns, mine_.id)) {
    write();
  }
  ~Ticket() {
    try {
      store_.remove(name_);
    } catch (...) {
    }
  }
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;

  // Rewrites the ticket when a quarter of its lease has gone.
  void keep_alive() {
    if (std::chrono::steady_clock::now() > written_ + std::chrono::nanoseconds(ticket_lease_ns() / 4)) write();
  }

  // How many live waiters arrived before us; stale tickets (lease out, or their process gone
  // on this host) are removed on the way.
  int ahead() {
    int n = 0;
    bool mine_seen = false;
    for (const auto& o : store_.list(kQueuePrefix)) {
      if (o.name == name_) {
        mine_seen = true;
        continue;
      }
      if (o.name > name_) continue;
      auto text = store_.try_get(o.name);
      if (!text) continue;
      auto other = parse_record(*text);
      // A lease further ahead than any ticket writes is not a live waiter's (a damaged or
      // planted ticket must not hold the queue up for ever).
      if (!other || is_stale(*other, mine_.host) || other->lease_until_ns > now_ns() + 2 * ticket_lease_ns()) {
        store_.remove(o.name);
        continue;
      }
      ++n;
    }
    if (!mine_seen) write();  // removed meanwhile (DB UNLOCK, or judged stale): the same place again
    return n;
  }

 private:
  void write() {
    mine_.lease_until_ns = now_ns() + ticket_lease_ns();
    store_.put(name_, mine_.to_json());
    written_ = std::chrono::steady_clock::now();
  }
  storage::Storage& store_;
  LockRecord mine_;
  std::string name_;
  std::chrono::steady_clock::time_point written_;
};

}  // namespace

std::unique_ptr<Lock> Lock::acquire(std::shared_ptr<storage::Storage> store, const std::string& host, bool wait) {
  LockRecord mine;
  mine.id = to_hex(crypto::random_bytes(8));
  mine.host = host;
  mine.pid = ::getpid();
  mine.user = user_name();
  mine.started_ns = now_ns();
  LockRecord holder;
  if (!wait) {
    if (auto lock = try_acquire(store, mine, holder)) return lock;
    throw_locked(holder);
  }
  // Waiters are served in arrival order: only the oldest live waiter tries to take the lock.
  // It looks every 0.25 s during the first minute it sees a holder (by this process's own
  // clock: short runs follow one another closely) and every second after that; the others
  // look every second whether they have become the oldest.
  Ticket ticket(*store, mine);
  int64_t last_message = 0;
  std::string seen_holder;
  std::chrono::steady_clock::time_point seen_since;
  for (;;) {
    ticket.keep_alive();
    const int ahead = ticket.ahead();
    bool young_holder = false;
    if (ahead == 0) {
      if (auto lock = try_acquire(store, mine, holder)) return lock;
      const auto now = std::chrono::steady_clock::now();
      if (holder.id != seen_holder) {
        seen_holder = holder.id;
        seen_since = now;
      }
      young_holder = now - seen_since < std::chrono::seconds(60);
    }
    if (now_ns() - last_message > 60LL * 1000000000LL) {
      if (ahead == 0)
        log::info("Waiting for the DB lock held by {}", holder.describe());
      else
        log::info("Waiting for the DB lock, behind {} earlier waiter{}", ahead, ahead == 1 ? "" : "s");
      last_message = now_ns();
    }
    wait_for(std::chrono::milliseconds(young_holder ? 250 : 1000));
  }
}

std::unique_ptr<Lock> Lock::try_acquire(const std::shared_ptr<storage::Storage>& store, LockRecord& mine,
                                        LockRecord& holder) {
  if (!store->capabilities().conditional_create) return try_acquire_by_listing(store, mine, holder);
  for (;;) {
    mine.lease_until_ns = now_ns() + lease_ns();
    if (store->put_if_absent(kLockName, mine.to_json())) return std::unique_ptr<Lock>(new Lock(store, mine, kLockName));
    auto text = store->try_get(kLockName);
    if (!text) continue;  // released in between: try again
    auto found = parse_record(*text);
    if (!found || is_stale(*found, mine.host)) {
      // Remove only if the record is still the one judged stale.
      if (store->try_get(kLockName) == text) {
        log::warn("Taking over a stale DB lock ({})", found ? found->describe() : std::string("damaged record"));
        store->remove(kLockName);
      }
      continue;
    }
    holder = *found;
    return nullptr;
  }
}

std::unique_ptr<Lock> Lock::try_acquire_by_listing(const std::shared_ptr<storage::Storage>& store, LockRecord& mine,
                                                   LockRecord& holder) {
  const std::string my_name = kLockPrefix + mine.id;
  std::mt19937_64 rng{std::random_device{}()};
  mine.lease_until_ns = now_ns() + lease_ns();
  store->put(my_name, mine.to_json());
  // Look for others; as the oldest, give younger contenders a grace period to withdraw.
  std::optional<LockRecord> blocker;
  // If looking fails, our record must not stay behind as a lock nobody holds.
  struct Withdraw {
    storage::Storage& store;
    const std::string& name;
    bool armed = true;
    ~Withdraw() {
      if (!armed) return;
      try {
        store.remove(name);
      } catch (...) {
      }
    }
  } withdraw{*store, my_name};
  for (int look = 0; look < 3; ++look) {
    blocker.reset();
    bool oldest = true;
    for (const auto& o : store->list(kLockPrefix)) {
      if (o.name == my_name) continue;
      auto text = store->try_get(o.name);
      if (!text) continue;  // withdrawn in between
      auto other = parse_record(*text);
      if (!other || is_stale(*other, mine.host)) {
        log::warn("Taking over a stale DB lock ({})", other ? other->describe() : std::string("damaged record"));
        store->remove(o.name);
        continue;
      }
      if (std::tie(other->started_ns, other->id) < std::tie(mine.started_ns, mine.id)) oldest = false;
      blocker = *other;
    }
    if (!blocker || !oldest) break;
    wait_for(std::chrono::milliseconds(500 + rng() % 500));
  }
  if (!blocker) {
    withdraw.armed = false;
    return std::unique_ptr<Lock>(new Lock(store, mine, my_name));
  }
  holder = *blocker;
  return nullptr;  // our record is withdrawn: a waiter's record must not block others
}

bool Lock::still_held() {
  if (lost_.load()) return false;
  auto text = store_->try_get(name_);
  auto r = text ? parse_record(*text) : std::nullopt;
  if (r && r->id == record_.id) return true;
  lost_ = true;
  return false;
}

// Renewal runs on a schedule anchored to the start of the last successful write, so that a
// slow store delays the next renewal only when one write takes longer than the period. The
// record is valid until its lease_until_ns; a renewal is only safe while it lands before the
// lease it replaces runs out, so the margin (what was left of the old lease when the new
// record was written) is measured: a renewal that lands with less than half the lease left
// is a WARN, and the smallest margin is reported (DEBUG) when the lock is released. A failed
// renewal is retried soon, not a whole period later.
void Lock::renew_loop() {
  using Clock = std::chrono::steady_clock;
  const int64_t lease = lease_ns();
  const auto period = std::chrono::nanoseconds(lease / 4);
  const auto retry = std::chrono::nanoseconds(std::min<int64_t>(lease / 16, 2000000000LL));
  std::unique_lock<std::mutex> lk(mu_);
  Clock::time_point next = Clock::now() + period;
  while (!cv_.wait_until(lk, next, [this] { return stop_; })) {
    const Clock::time_point start = Clock::now();
    LockRecord r = record_;
    const int64_t old_until = record_.lease_until_ns;
    r.lease_until_ns = now_ns() + lease;
    lk.unlock();
    bool renewed = false;
    try {
      auto current = store_->try_get(name_);
      auto holder = current ? parse_record(*current) : std::nullopt;
      if (!current) {
        if (!lost_.exchange(true)) log::error("The DB lock of this process was removed (DB UNLOCK?) while it held it");
      } else if (holder && holder->id == r.id) {
        store_->put(name_, r.to_json());
        renewed = true;
      } else if (!lost_.exchange(true)) {
        log::error("The DB lock was taken by another process while this one held it");
      }
    } catch (const std::exception& e) {
      log::warn("Could not renew the DB lock: {}", e.what());
    }
    lk.lock();
    if (!renewed && lost_) {
      cv_.wait(lk, [this] { return stop_; });  // nothing more to renew: the lock is another's
      return;
    }
    if (!renewed) {
      next = Clock::now() + retry;
      continue;
    }
    const int64_t margin = old_until - now_ns();
    if (renewals_ == 0 || margin < min_margin_ns_) min_margin_ns_ = margin;
    ++renewals_;
    if (margin < lease / 2)
      log::warn("The DB lock was renewed with only {:.1f} s of its {:.0f} s lease left: the store answers slowly",
                static_cast<double>(margin) / 1e9, static_cast<double>(lease) / 1e9);
    record_.lease_until_ns = r.lease_until_ns;
    next = start + period;
  }
}

void Lock::release() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (released_) return;
    released_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (renewals_ > 0)
    log::debug("The DB lock was renewed {} times; the smallest margin was {:.2f} s of a {:.0f} s lease", renewals_,
               static_cast<double>(min_margin_ns_) / 1e9, static_cast<double>(lease_ns()) / 1e9);
  try {
    auto current = store_->try_get(name_);
    auto r = current ? parse_record(*current) : std::nullopt;
    if (r && r->id == record_.id) store_->remove(name_);
  } catch (const std::exception& e) {
    log::warn("Could not release the DB lock: {}", e.what());
  }
}

Lock::~Lock() { release(); }

std::optional<LockRecord> Lock::force_unlock(storage::Storage& store, const std::string& my_host) {
  // A holder that runs on this machine, within its lease, is no crash leftover.
  std::vector<std::pair<std::string, std::optional<LockRecord>>> found;
  for (const auto& o : store.list(kLockPrefix)) {
    auto text = store.try_get(o.name);
    if (!text) continue;
    auto r = parse_record(*text);
    if (r && !is_stale(*r, my_host) && r->host == my_host)
      throw Error(ErrorKind::kLocked,
                  "the DB lock is held by " + r->describe() +
                      ", which is running on this machine; stop it first (DB UNLOCK removes locks left by crashes)");
    found.emplace_back(o.name, r);
  }
  std::optional<LockRecord> holder;
  for (const auto& [name, r] : found) {
    if (!holder) holder = r.value_or(LockRecord{});
    store.remove(name);
  }
  // The queue too: tickets of waiters that are gone go now; live waiters write theirs again
  // within a second, in the same place.
  for (const auto& o : store.list(kQueuePrefix)) store.remove(o.name);
  return holder;
}

}  // namespace seshat::repo
