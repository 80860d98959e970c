// The S3 XML answers (seshat/storage/s3_xml.h) on untrusted bodies: error documents,
// ListObjectsV2 pages, multipart initiation and DeleteObjects results.
//
// Contract checked (the header's): never throws anything but seshat::Error, never crashes;
// parse_list_result throws only Error(kTransient) and never returns an object with an empty
// key.
//
// pugixml comes from the system (Debian ships no source), so it is not instrumented: the
// coverage counted is that of s3_xml.cc, and ASan checks pugixml's heap use only through its
// allocator, not its reads.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "seshat/storage/s3_xml.h"
#include "seshat/util/error.h"

using namespace seshat;
using namespace seshat::storage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  S3ErrorInfo e = parse_s3_error(body);
  volatile size_t sink = e.code.size() + e.message.size();

  try {
    ListPage page = parse_list_result(body);
    for (const auto& o : page.objects) {
      FUZZ_CHECK(!o.name.empty());
      sink = sink + o.name.size() + o.size;
    }
    sink = sink + page.truncated + page.next_token.size();
  } catch (const Error& err) {
    FUZZ_CHECK(err.kind() == ErrorKind::kTransient);
  }

  sink = sink + parse_upload_id(body).size();
  sink = sink + parse_delete_errors(body).size();
  (void)sink;
  return 0;
}
