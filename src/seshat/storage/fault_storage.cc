// FaultStorage: the fault-injection wrapper of the reliability campaigns.
#include "seshat/storage/fault_storage.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "seshat/util/env.h"
#include "seshat/util/error.h"

namespace seshat::storage {
namespace {

bool op_matches(const std::string& rule_op, const char* op) { return rule_op == "any" || rule_op == op; }

class FaultWriter : public ObjectWriter {
 public:
  FaultWriter(FaultStorage& owner, std::unique_ptr<ObjectWriter> inner, std::string name)
      : owner_(owner), inner_(std::move(inner)), name_(std::move(name)) {}
  void write(std::string_view data) override {
    owner_.before("write", name_);
    owner_.log_io("write", name_, data.size());
    inner_->write(data);
  }
  uint64_t size() const override { return inner_->size(); }
  void commit() override {
    owner_.before("commit", name_);
    inner_->commit();
  }
  void abort() override { inner_->abort(); }

 private:
  FaultStorage& owner_;
  std::unique_ptr<ObjectWriter> inner_;
  std::string name_;
};

}  // namespace

std::optional<std::vector<FaultStorage::Rule>> FaultStorage::parse(const std::string& spec) {
  std::vector<Rule> rules;
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string::npos) end = spec.size();
    std::string item = spec.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    Rule r;
    size_t at = item.find('@'), eq = item.find('=');
    if (at == std::string::npos || eq == std::string::npos || eq < at) return std::nullopt;
    std::string op = item.substr(0, at);
    if (size_t c = op.find(':'); c != std::string::npos) {
      r.name_part = op.substr(c + 1);
      op.resize(c);
    }
    static const char* kOps[] = {"put", "get", "range", "head", "list", "remove", "create", "write", "commit", "any"};
    bool known = false;
    for (const char* k : kOps) known |= op == k;
    if (!known) return std::nullopt;
    r.op = op;
    std::string n = item.substr(at + 1, eq - at - 1);
    if (n == "*") {
      r.nth = 1;
      r.and_after = true;
    } else {
      if (!n.empty() && n.back() == '+') {
        r.and_after = true;
        n.pop_back();
      }
      char* e = nullptr;
      r.nth = std::strtol(n.c_str(), &e, 10);
      if (n.empty() || *e || r.nth < 1) return std::nullopt;
    }
    std::string action = item.substr(eq + 1);
    if (size_t c = action.find(':'); c != std::string::npos) {
      r.arg = std::strtol(action.c_str() + c + 1, nullptr, 10);
      action.resize(c);
    }
    static const char* kActions[] = {"fail", "transient", "enospc", "erofs", "short", "corrupt", "slow", "kill"};
    known = false;
    for (const char* k : kActions) known |= action == k;
    if (!known) return std::nullopt;
    r.action = action;
    rules.push_back(std::move(r));
  }
  return rules;
}

FaultStorage::FaultStorage(std::shared_ptr<Storage> inner, std::vector<Rule> rules, const std::string& io_log)
    : StorageWrapper(std::move(inner)), rules_(std::move(rules)) {
  if (!io_log.empty()) log_fd_ = ::open(io_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

FaultStorage::~FaultStorage() {
  if (log_fd_ >= 0) ::close(log_fd_);
}

void FaultStorage::log_io(const char* op, const std::string& name, uint64_t bytes) {
  if (log_fd_ < 0) return;
  std::string line = fmt::format("{} {} {}\n", op, name, bytes);
  (void)!::write(log_fd_, line.data(), line.size());  // O_APPEND: one line per write(2), even if killed
}

std::string FaultStorage::before(const char* op, const std::string& name) {
  std::string read_action;
  long slow_ms = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (Rule& r : rules_) {
      if (!op_matches(r.op, op)) continue;
      if (!r.name_part.empty() && name.find(r.name_part) == std::string::npos) continue;
      long n = ++r.seen;
      if (n != r.nth && !(r.and_after && n > r.nth)) continue;
      const std::string& a = r.action;
      std::string what = fmt::format("{} {}", op, name);
      if (a == "kill") {
        std::raise(SIGKILL);
        ::_exit(137);
      }
      if (a == "fail") throw Error(ErrorKind::kPermanent, "injected fault: " + what + " failed");
      if (a == "transient") throw Error(ErrorKind::kTransient, "injected fault: " + what + " timed out");
      if (a == "enospc") throw Error(ErrorKind::kPermanent, "cannot write " + name + ": No space left on device");
      if (a == "erofs") throw Error(ErrorKind::kPermanent, "cannot write " + name + ": Read-only file system");
      if (a == "slow") slow_ms = std::max(slow_ms, r.arg > 0 ? r.arg : 100);
      if (a == "short" || a == "corrupt") read_action = a;
    }
  }
  if (slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
  return read_action;
}

std::string FaultStorage::damage(std::string data, const std::string& action) {
  if (action == "short") {
    data.resize(data.size() / 2);
  } else if (action == "corrupt" && !data.empty()) {
    data[data.size() / 2] ^= 0x5a;
  }
  return data;
}

void FaultStorage::put(const std::string& n, std::string_view d) {
  before("put", n);
  log_io("put", n, d.size());
  inner_->put(n, d);
}

bool FaultStorage::put_if_absent(const std::string& n, std::string_view d) {
  before("put", n);
  log_io("put", n, d.size());
  return inner_->put_if_absent(n, d);
}

bool FaultStorage::put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& produce) {
  before("put", n);
  uint64_t bytes = 0;
  bool created;
  try {
    created = inner_->put_if_absent_stream(n, [&](const Sink& sink) {
      produce([&](std::string_view piece) {
        bytes += piece.size();
        sink(piece);
      });
    });
  } catch (...) {
    log_io("put", n, bytes);  // what was sent before it failed
    throw;
  }
  log_io("put", n, bytes);
  return created;
}

std::string FaultStorage::get(const std::string& n) {
  std::string a = before("get", n);
  return damage(inner_->get(n), a);
}

std::string FaultStorage::get_range(const std::string& n, uint64_t o, uint64_t l) {
  std::string a = before("range", n);
  return damage(inner_->get_range(n, o, l), a);
}

std::optional<uint64_t> FaultStorage::head(const std::string& n) {
  before("head", n);
  return inner_->head(n);
}

std::vector<ObjectInfo> FaultStorage::list(const std::string& p) {
  before("list", p);
  return inner_->list(p);
}

void FaultStorage::remove(const std::string& n) {
  before("remove", n);
  inner_->remove(n);
}

void FaultStorage::remove_many(const std::vector<std::string>& names) {
  before("remove", names.empty() ? std::string() : names.front());
  inner_->remove_many(names);
}

std::unique_ptr<ObjectWriter> FaultStorage::create(const std::string& n, ObjectClass c) {
  before("create", n);
  return std::make_unique<FaultWriter>(*this, inner_->create(n, c), n);
}

std::shared_ptr<Storage> FaultStorage::wrap_from_env(std::shared_ptr<Storage> s) {
  auto spec = env::get(env::kFaults);
  auto io_log = env::get(env::kIoLog);
  if (!spec && !io_log) return s;
  auto rules = parse(spec.value_or(""));
  if (!rules) throw Error(ErrorKind::kInvalidInput, "SESHAT_FAULTS is malformed: " + spec.value_or(""));
  return std::make_shared<FaultStorage>(std::move(s), std::move(*rules), io_log.value_or(""));
}

}  // namespace seshat::storage
