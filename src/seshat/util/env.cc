#include "seshat/util/env.h"

#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace seshat::env {

using A = Audience;

const Var kPassword{
    "SESHAT_PASSWORD", A::kUser,
    "The repository passphrase (prefer SESHAT_PASSWORD_FILE: the environment of a process can be read by root)."};
const Var kPasswordFile{"SESHAT_PASSWORD_FILE", A::kUser, "A file whose first line is the passphrase."};
const Var kPasswordCommand{"SESHAT_PASSWORD_COMMAND", A::kUser,
                           "A command (run by /bin/sh) whose first line of output is the passphrase."};
const Var kHostname{"SESHAT_HOSTNAME", A::kUser,
                    "The host name backups are recorded under (default: the machine's name)."};
const Var kThreads{
    "SESHAT_THREADS", A::kTuning,
    "Worker threads for packing and restoring (default: one per core for backups, two per core for restores)."};
const Var kDebug{"SESHAT_DEBUG", A::kUser, "Set to print DEBUG lines (retries, uploads, lock renewals)."};
const Var kS3PartSize{"SESHAT_S3_PART_SIZE", A::kTuning,
                      "Multipart upload part size in bytes (default 16 MiB, at least 1 MiB)."};
const Var kS3Attempts{"SESHAT_S3_ATTEMPTS", A::kTuning, "Attempts per S3 request before it fails (default 8)."};
const Var kS3BackoffMs{"SESHAT_S3_BACKOFF_MS", A::kTuning,
                       "First retry delay of a failed S3 request in ms, doubled each time (default 250)."};
const Var kS3IdleSeconds{
    "SESHAT_S3_IDLE_SECONDS", A::kTuning,
    "Seconds an S3 request may move no byte before it fails (default 60); the store counts as unreachable "
    "once nothing has answered for 10 s."};
const Var kKdfMemLimit{
    "SESHAT_KDF_MEMLIMIT", A::kTestHook,
    "Argon2id memory (bytes) for a NEW repository's key; weakens the key derivation, for fast tests only."};
const Var kKdfOpsLimit{"SESHAT_KDF_OPSLIMIT", A::kTestHook,
                       "Argon2id passes for a NEW repository's key; weakens the key derivation, for fast tests only."};
const Var kLockLeaseSeconds{
    "SESHAT_LOCK_LEASE_SECONDS", A::kTestHook,
    "The lock lease in seconds (default 300), so that tests of stale locks need not wait minutes."};
const Var kCrashAt{"SESHAT_CRASH_AT", A::kTestHook,
                   "<point>:<n>[=stop],...: SIGKILL (or SIGSTOP) at the n-th pass of a crash point."};
const Var kCrashLog{"SESHAT_CRASH_LOG", A::kTestHook, "A file that gets one line per crash point passed."};
const Var kFaults{"SESHAT_FAULTS", A::kTestHook, "Rules of the fault-injecting storage wrapper (doc/testing.md)."};
const Var kIoLog{"SESHAT_IO_LOG", A::kTestHook,
                 "A file that gets one line per write sent to the store, with its size."};
const Var kHome{"HOME", A::kUser, "Where ~/.seshatrc, ~/.seshat/ (default store, history) and ~/.aws/ are."};
const Var kXdgCacheHome{"XDG_CACHE_HOME", A::kUser,
                        "Where the catalog cache of S3 stores is (default ~/.cache; SET CACHE NO turns it off)."};
const Var kUser{"USER", A::kUser, "The user name written into lock records."};
const Var kAwsAccessKeyId{"AWS_ACCESS_KEY_ID", A::kUser,
                          "S3 access key (with AWS_SECRET_ACCESS_KEY); else a profile of ~/.aws/credentials."};
const Var kAwsSecretAccessKey{"AWS_SECRET_ACCESS_KEY", A::kUser, "S3 secret key."};
const Var kAwsSessionToken{"AWS_SESSION_TOKEN", A::kUser, "S3 session token of temporary credentials."};
const Var kAwsProfile{"AWS_PROFILE", A::kUser,
                      "The credentials profile when S3 PROFILE is not set (default: default)."};
const Var kAwsRegion{"AWS_REGION", A::kUser, "The S3 region when S3 REGION is not set."};
const Var kAwsDefaultRegion{"AWS_DEFAULT_REGION", A::kUser,
                            "The S3 region when neither S3 REGION nor AWS_REGION is set."};
const Var kAwsSharedCredentialsFile{"AWS_SHARED_CREDENTIALS_FILE", A::kUser,
                                    "The credentials file (default ~/.aws/credentials)."};
const Var kAwsConfigFile{"AWS_CONFIG_FILE", A::kUser,
                         "The AWS config file with profile regions (default ~/.aws/config)."};

namespace {
const std::array kAll = {&kPassword,
                         &kPasswordFile,
                         &kPasswordCommand,
                         &kHostname,
                         &kDebug,
                         &kHome,
                         &kXdgCacheHome,
                         &kUser,
                         &kAwsAccessKeyId,
                         &kAwsSecretAccessKey,
                         &kAwsSessionToken,
                         &kAwsProfile,
                         &kAwsRegion,
                         &kAwsDefaultRegion,
                         &kAwsSharedCredentialsFile,
                         &kAwsConfigFile,
                         &kThreads,
                         &kS3PartSize,
                         &kS3Attempts,
                         &kS3BackoffMs,
                         &kS3IdleSeconds,
                         &kKdfMemLimit,
                         &kKdfOpsLimit,
                         &kLockLeaseSeconds,
                         &kCrashAt,
                         &kCrashLog,
                         &kFaults,
                         &kIoLog};
}  // namespace

std::span<const Var* const> all() { return kAll; }

std::optional<std::string> get(const Var& var) {
  const char* v = std::getenv(var.name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::optional<int64_t> get_int(const Var& var, int64_t min, int64_t max) {
  auto v = get(var);
  if (!v) return std::nullopt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max) return std::nullopt;
  return n;
}

bool flag(const Var& var) {
  auto v = get(var);
  return v && *v != "0";
}

}  // namespace seshat::env
