// Writes a whole file atomically: data goes to a temporary file beside the target, is
// fsync'ed, then renamed over the target. A crash leaves the old file or the new one, never
// a mix. Throws Error on failure (the temporary is removed).
#pragma once
#include <string>
#include <string_view>

namespace seshat {

void write_file_atomic(const std::string& path, std::string_view data, int mode = 0600);
// Reads a whole file; throws Error(kNotFound) if it does not exist.
std::string read_file(const std::string& path);
// mkdir -p; throws on failure.
void make_dirs(const std::string& path, int mode = 0700);

}  // namespace seshat
