// The key file (doc/format/keyfile.md): the master keys wrapped by a passphrase-derived key.
#pragma once
#include <string>

#include "seshat/crypto/crypto.h"

namespace seshat::crypto {

// Makes a key file (JSON text) holding `master` wrapped under `passphrase` with a random salt.
std::string make_keyfile(const Keys& master, std::string_view passphrase, const KdfParams& params);
// Unwraps. Throws Error(kInvalidInput, "wrong passphrase ...") if the passphrase is wrong,
// Error(kCorruption) if the file is malformed.
Keys open_keyfile(std::string_view keyfile, std::string_view passphrase);

}  // namespace seshat::crypto
