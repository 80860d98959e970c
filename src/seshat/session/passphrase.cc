#include "seshat/session/passphrase.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "seshat/util/atomic_file.h"
#include "seshat/util/env.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::session {
namespace {

std::string prompt_hidden(const char* prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::kInvalidInput, "no passphrase: set SESHAT_PASSWORD or SESHAT_PASSWORD_FILE");
  (void)!::write(fd, prompt, std::strlen(prompt));
  termios old{};
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    termios t = old;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &t);
  }
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  return line;
}

}  // namespace

std::string read_passphrase(bool confirm) {
  if (auto p = env::get(env::kPassword)) return *p;
  if (auto f = env::get(env::kPasswordFile)) {
    auto r = read_file(*f);
    if (!r) throw Error(ErrorKind::kInvalidInput, std::string("cannot read the passphrase file: ") + r.error().what());
    std::string text = std::move(r).value();
    size_t nl = text.find('\n');
    if (nl != std::string::npos) text.resize(nl);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) throw Error(ErrorKind::kInvalidInput, "the passphrase file " + *f + " is empty");
    return text;
  }
  if (!::isatty(STDIN_FILENO))
    throw Error(ErrorKind::kInvalidInput,
                "no passphrase: set SESHAT_PASSWORD or SESHAT_PASSWORD_FILE, or run on a terminal");
  std::string p = prompt_hidden(confirm ? "New passphrase: " : "Passphrase: ");
  if (p.empty()) throw Error(ErrorKind::kInvalidInput, "an empty passphrase is not allowed");
  if (confirm && prompt_hidden("Repeat the passphrase: ") != p)
    throw Error(ErrorKind::kInvalidInput, "the passphrases do not match; nothing was created");
  return p;
}

crypto::KdfParams new_repository_kdf() {
  crypto::KdfParams p;
  // The parameters are stored in the key file, so a repository made this way stays readable.
  auto mem = env::get_int(env::kKdfMemLimit, 8192, int64_t{4} << 30);
  auto ops = env::get_int(env::kKdfOpsLimit, 1, 100);
  if (mem) p.mem = static_cast<uint64_t>(*mem);
  if (ops) p.ops = static_cast<uint64_t>(*ops);
  if (mem || ops)
    log::debug(
        "Key derivation weakened by SESHAT_KDF_MEMLIMIT / SESHAT_KDF_OPSLIMIT (a test hook): {} passes, {} bytes",
        p.ops, p.mem);
  return p;
}

}  // namespace seshat::session
