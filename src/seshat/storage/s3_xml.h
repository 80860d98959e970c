// Parsing of S3's XML answers (pugixml). Untrusted input: never throws anything but
// seshat::Error, never crashes.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "seshat/storage/storage.h"

namespace seshat::storage {

struct S3ErrorInfo {
  std::string code, message;  // empty when the body is not an S3 <Error> document
};
S3ErrorInfo parse_s3_error(std::string_view body);

struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_token;
};
// A ListObjectsV2 page. Throws Error(kTransient) if it is not a ListBucketResult document.
ListPage parse_list_result(std::string_view body);

// <InitiateMultipartUploadResult><UploadId>; empty if absent.
std::string parse_upload_id(std::string_view body);
struct UploadsPage {
  std::vector<std::pair<std::string, std::string>> uploads;  // (key, upload id)
  bool truncated = false;
  std::string next_key_marker, next_upload_id_marker;
};
// A ListMultipartUploads page. Throws Error(kTransient) if it is not such a document.
UploadsPage parse_uploads_result(std::string_view body);

// The first <Error> of a DeleteObjects result as "key: code", or empty.
std::string parse_delete_errors(std::string_view body);

}  // namespace seshat::storage
