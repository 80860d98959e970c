// The record encodings a whole catalog and a delta share (codec.cc, delta.cc); internal to
// the catalog module.
#pragma once
#include <cstdint>
#include <string>

#include "seshat/catalog/catalog.h"
#include "seshat/util/bytes.h"

namespace seshat::catalog::detail {

[[noreturn]] void corrupt(const std::string& what);
// kNone is stored as 0, everything else as value + 1.
uint64_t opt(uint32_t v);
uint32_t unopt(uint64_t v);
uint32_t u32_of(uint64_t v);

void put_blob(ByteWriter& w, const BlobRef& b);
BlobRef get_blob(ByteReader& r);
void put_content(ByteWriter& w, const Content& k);
Content get_content(ByteReader& r);
void put_folder(ByteWriter& w, const Folder& f);
Folder get_folder(ByteReader& r);
void put_backup(ByteWriter& w, const Backup& b);
Backup get_backup(ByteReader& r);
// A version after its backup and prev fields (a delta names the entry instead of prev).
void put_version_body(ByteWriter& w, const Version& v);
void get_version_body(ByteReader& r, Version& v, uint32_t format);
void put_extra(ByteWriter& w, const Extra& x);
Extra get_extra(ByteReader& r);

// Every reference of the records added since `from` must point inside its table, so that
// queries never index out of range. Throws Error(kCorruption).
void check_refs(const Catalog& c, const Mark& from);

}  // namespace seshat::catalog::detail
