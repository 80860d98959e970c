#include "seshat/storage/s3_xml.h"

#include <cstdlib>
#include <pugixml.hpp>

#include "seshat/util/error.h"

namespace seshat::storage {
namespace {

bool load(pugi::xml_document& doc, std::string_view body) {
  return !body.empty() && doc.load_buffer(body.data(), body.size());
}

}  // namespace

S3ErrorInfo parse_s3_error(std::string_view body) {
  S3ErrorInfo e;
  pugi::xml_document doc;
  if (load(doc, body)) {
    pugi::xml_node err = doc.child("Error");
    e.code = err.child_value("Code");
    e.message = err.child_value("Message");
  }
  return e;
}

ListPage parse_list_result(std::string_view body) {
  pugi::xml_document doc;
  if (!load(doc, body)) throw Error(ErrorKind::kTransient, "S3 sent a listing that is not XML");
  pugi::xml_node root = doc.child("ListBucketResult");
  if (!root) throw Error(ErrorKind::kTransient, "S3 sent something other than a listing");
  ListPage page;
  for (pugi::xml_node c : root.children("Contents")) {
    std::string key = c.child_value("Key");
    if (key.empty()) continue;
    page.objects.push_back({key, std::strtoull(c.child_value("Size"), nullptr, 10), c.child_value("ETag")});
  }
  page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  page.next_token = root.child_value("NextContinuationToken");
  return page;
}

std::string parse_upload_id(std::string_view body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return "";
  return doc.child("InitiateMultipartUploadResult").child_value("UploadId");
}

UploadsPage parse_uploads_result(std::string_view body) {
  pugi::xml_document doc;
  if (!load(doc, body)) throw Error(ErrorKind::kTransient, "S3 sent a list of uploads that is not XML");
  pugi::xml_node root = doc.child("ListMultipartUploadsResult");
  if (!root) throw Error(ErrorKind::kTransient, "S3 sent something other than a list of uploads");
  UploadsPage page;
  for (pugi::xml_node u : root.children("Upload")) {
    std::string key = u.child_value("Key"), id = u.child_value("UploadId");
    if (!key.empty() && !id.empty()) page.uploads.emplace_back(std::move(key), std::move(id));
  }
  page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  page.next_key_marker = root.child_value("NextKeyMarker");
  page.next_upload_id_marker = root.child_value("NextUploadIdMarker");
  return page;
}

std::string parse_delete_errors(std::string_view body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return "";
  pugi::xml_node err = doc.child("DeleteResult").child("Error");
  if (!err) return "";
  return std::string(err.child_value("Key")) + ": " + err.child_value("Code");
}

}  // namespace seshat::storage
