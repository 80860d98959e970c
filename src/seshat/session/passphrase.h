// The repository passphrase: SESHAT_PASSWORD, then SESHAT_PASSWORD_FILE, then a no-echo
// prompt on the terminal. Never stored, never printed.
#pragma once
#include <string>

#include "seshat/crypto/crypto.h"

namespace seshat::session {

// Asked twice when `confirm` (a new repository). Throws Error(kInvalidInput) if there is no
// way to get one.
std::string read_passphrase(bool confirm);

// A new repository's passphrase: at least 8 characters (Error(kInvalidInput), nothing is
// created), a WARN below 12.
void check_new_passphrase(const std::string& pass);

// The key derivation for a new repository: the defaults, unless the test hooks
// SESHAT_KDF_MEMLIMIT / SESHAT_KDF_OPSLIMIT ask for a cheaper, weaker one (a DEBUG line says so).
crypto::KdfParams new_repository_kdf();

}  // namespace seshat::session
