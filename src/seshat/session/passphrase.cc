#include "seshat/session/passphrase.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "seshat/util/atomic_file.h"
#include "seshat/util/env.h"
#include "seshat/util/error.h"
#include "seshat/util/io.h"
#include "seshat/util/log.h"

namespace seshat::session {
namespace {

volatile sig_atomic_t g_prompt_signal = 0;
void on_prompt_signal(int sig) { g_prompt_signal = sig; }

// While the terminal does not echo, Ctrl-C or SIGTERM ends the prompt (read is not restarted)
// and the terminal gets its state back before anything else happens: never left without echo.
class PromptSignals {
 public:
  PromptSignals() {
    g_prompt_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_prompt_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the read returns EINTR
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~PromptSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

std::string prompt_hidden(const char* prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::kInvalidInput, "no passphrase: set SESHAT_PASSWORD or SESHAT_PASSWORD_FILE");
  io::Fd tty(fd);
  std::string line;
  int got_signal = 0;
  {
    PromptSignals signals;
    termios old{};
    bool restore = ::tcgetattr(fd, &old) == 0;
    if (restore) {
      termios t = old;
      t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(fd, TCSAFLUSH, &t);
    }
    // The prompt only once Ctrl-C is ours and echo is off: a key pressed the moment it shows
    // is handled here, not by the command's own handler.
    (void)!::write(fd, prompt, std::strlen(prompt));
    // Waits in slices: a signal that lands just before a read, or on another thread, is
    // still seen within 100 ms.
    char c;
    while (!g_prompt_signal) {
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r < 0 && errno != EINTR) break;
      if (r <= 0) continue;
      ssize_t n = ::read(fd, &c, 1);
      if (n == 1 && c != '\n') {
        line.push_back(c);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    got_signal = g_prompt_signal;
    if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  }
  (void)!::write(fd, "\n", 1);
  if (got_signal) {
    std::fill(line.begin(), line.end(), '\0');
    throw Error(ErrorKind::kInterrupted, "interrupted at the passphrase prompt");
  }
  return line;
}

// SESHAT_PASSWORD_COMMAND: runs it with /bin/sh -c (stderr and the terminal stay the user's,
// so a keyring may ask; stdin too when it is a terminal), takes the first line of its standard output. Anything but
// an exit status of 0 with a non-empty first line is an error; the command's text is never
// echoed into the message (it may hold a secret).
std::string run_password_command(const std::string& command) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error(ErrorKind::kPermanent,
                std::string("SESHAT_PASSWORD_COMMAND: cannot make a pipe: ") + std::strerror(errno));
  io::Fd rd(fds[0]), wr(fds[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), STDOUT_FILENO);
  // Standard input is Seshat's command stream when it is not a terminal: never the
  // command's to read. A keyring that asks uses /dev/tty.
  if (!::isatty(STDIN_FILENO)) posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // Signals as a shell would give them: Seshat ignores SIGPIPE, its child must not.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, none;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw Error(ErrorKind::kPermanent,
                std::string("SESHAT_PASSWORD_COMMAND: cannot run /bin/sh: ") + std::strerror(rc));
  wr = io::Fd();  // only the child holds the write end: its exit ends the read
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < (1u << 20)) out.append(buf, static_cast<size_t>(n));  // the rest is drained, not kept
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  size_t nl = out.find('\n');
  std::string line = out.substr(0, nl);
  std::fill(out.begin(), out.end(), '\0');
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (WIFSIGNALED(status))
    throw Error(ErrorKind::kInvalidInput,
                fmt::format("SESHAT_PASSWORD_COMMAND was killed by signal {}; nothing was opened", WTERMSIG(status)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    int code = WEXITSTATUS(status);
    // sh -c reports a command killed by signal n as exit status 128+n.
    std::string why =
        code > 128 && code < 128 + 65 ? fmt::format(", as sh reports a command killed by signal {}", code - 128) : "";
    throw Error(ErrorKind::kInvalidInput,
                fmt::format("SESHAT_PASSWORD_COMMAND failed (exit status {}{}); nothing was opened", code, why));
  }
  if (line.empty())
    throw Error(ErrorKind::kInvalidInput, "SESHAT_PASSWORD_COMMAND printed no passphrase; nothing was opened");
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
  if (auto c = env::get(env::kPasswordCommand)) return run_password_command(*c);
  if (!::isatty(STDIN_FILENO))
    throw Error(
        ErrorKind::kInvalidInput,
        "no passphrase: set SESHAT_PASSWORD, SESHAT_PASSWORD_FILE or SESHAT_PASSWORD_COMMAND, or run on a terminal");
  std::string p = prompt_hidden(confirm ? "New passphrase: " : "Passphrase: ");
  if (p.empty()) throw Error(ErrorKind::kInvalidInput, "an empty passphrase is not allowed");
  if (confirm && prompt_hidden("Repeat the passphrase: ") != p)
    throw Error(ErrorKind::kInvalidInput, "the passphrases do not match; nothing was created");
  return p;
}

void check_new_passphrase(const std::string& pass) {
  // Characters, not bytes: a UTF-8 sequence counts once.
  size_t n = 0;
  for (unsigned char ch : pass) n += (ch & 0xC0) != 0x80;
  if (n < 8)
    throw Error(ErrorKind::kInvalidInput,
                "a new repository's passphrase needs at least 8 characters (12 or more recommended); nothing was "
                "created");
  if (n < 12) log::warn("The passphrase has only {} characters; 12 or more are recommended", n);
}

crypto::KdfParams new_repository_kdf() {
  crypto::KdfParams p;
  // The parameters are stored in the key file, so a repository made this way stays readable.
  auto mem = env::get_int(env::kKdfMemLimit, crypto::kKdfMinMem, crypto::kKdfMaxMem);
  auto ops = env::get_int(env::kKdfOpsLimit, crypto::kKdfMinOps, crypto::kKdfMaxOps);
  if (mem) p.mem = static_cast<uint64_t>(*mem);
  if (ops) p.ops = static_cast<uint64_t>(*ops);
  if (mem || ops)
    log::debug(
        "Key derivation weakened by SESHAT_KDF_MEMLIMIT / SESHAT_KDF_OPSLIMIT (a test hook): {} passes, {} bytes",
        p.ops, p.mem);
  return p;
}

}  // namespace seshat::session
