// Every environment variable Seshat reads, in one table (as ccache's Config): its name, what
// it does and who it is for. Code reads a variable only through get(), so the table is
// complete; doc/environment.md lists it (a test compares the two).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace seshat::env {

enum class Audience {
  kUser,      // documented for users
  kTuning,    // tuning knobs (documented; defaults are right for nearly everyone)
  kTestHook,  // set by the test suite only (doc/testing.md); never needed in use
};

struct Var {
  const char* name;
  Audience audience;
  const char* help;
};

extern const Var kPassword, kPasswordFile, kPasswordCommand, kHostname, kThreads, kDebug;
extern const Var kS3PartSize, kS3Attempts, kS3BackoffMs, kS3IdleSeconds;
extern const Var kKdfMemLimit, kKdfOpsLimit, kLockLeaseSeconds, kCrashAt, kCrashLog, kFaults, kIoLog;
extern const Var kHome, kXdgCacheHome, kUser, kAwsAccessKeyId, kAwsSecretAccessKey, kAwsSessionToken, kAwsProfile,
    kAwsRegion, kAwsDefaultRegion, kAwsSharedCredentialsFile, kAwsConfigFile;

// The whole table, in the order of doc/environment.md.
std::span<const Var* const> all();

// The variable's value when it is set and not empty.
std::optional<std::string> get(const Var& var);
// A whole number within [min, max] (decimal), else nullopt (unset, empty or malformed).
std::optional<int64_t> get_int(const Var& var, int64_t min, int64_t max);
// Set and not "0" or empty: a yes/no switch.
bool flag(const Var& var);

}  // namespace seshat::env
