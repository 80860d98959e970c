// Writes the seed corpora: gen_corpus <dir> fills <dir>/<target>/ with a handful of small
// valid and near-valid inputs per fuzz target, made with the real encoders (container
// Builder, catalog encode, make_keyfile, LockRecord::to_json) under the fixed key and
// passphrase of fuzz_common.h. fuzz/gen_corpus.sh runs it into fuzz/corpus.
#include <sys/stat.h>
#include <zstd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "sample_catalog.h"
#include "seshat/catalog/codec.h"
#include "seshat/container/container.h"
#include "seshat/crypto/keyfile.h"
#include "seshat/repo/lock.h"
#include "seshat/shell/commands.h"
#include "seshat/util/bytes.h"

using namespace seshat;
using namespace seshat::fuzz_sample;

namespace {

std::string g_dir;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  std::string d = g_dir + "/" + target;
  ::mkdir(g_dir.c_str(), 0755);
  ::mkdir(d.c_str(), 0755);
  std::ofstream f(d + "/" + name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "cannot write %s/%s\n", d.c_str(), name.c_str());
    std::exit(1);
  }
}

std::string u64le(uint64_t v) {
  ByteWriter w;
  w.u64(v);
  return w.take();
}

// ---------------------------------------------------------------- container

struct Built {
  std::string bytes;    // the whole container
  std::string trailer;  // sealed index + footer
};

Built build_container(const std::vector<std::pair<std::string, std::string>>& files) {
  const auto& keys = fuzz::fixed_keys();
  container::Builder b(container::Origin{"bastet", "/home/adrian", 1564150070897000000});
  Built out;
  out.bytes = b.header();
  for (const auto& [path, content] : files) {
    container::SealedBlob blob = container::seal_blob(keys, content);
    container::FileInfo fi;
    fi.path = path;
    fi.file_size = content.size();
    fi.mtime_ns = 1564150070897000000;
    fi.mode = 0644;
    fi.uid = 1000;
    fi.gid = 100;
    fi.hash = crypto::sha256(content);
    b.add(blob, fi);
    out.bytes += blob.ciphertext;
  }
  out.trailer = b.finish(keys);
  out.bytes += out.trailer;
  return out;
}

void container_seeds() {
  const std::string t = "fuzz_container_footer_index";
  const auto& keys = fuzz::fixed_keys();
  Built two = build_container(
      {{"/home/adrian/notes.txt", "hello, world\n"}, {"/home/adrian/big.log", std::string(300, 'x') + "tail"}});
  Built none = build_container({});
  Built many = build_container({{"/a", "1"}, {"/b", "22"}, {"/c/d/e", "333"}, {"/f", ""}});

  // Mode 1: whole containers, valid and damaged.
  put(t, "m1_two_files", "\x01" + two.bytes);
  put(t, "m1_empty", "\x01" + none.bytes);
  put(t, "m1_four_files", "\x01" + many.bytes);
  std::string bad_mac = two.bytes;
  bad_mac[bad_mac.size() - container::kFooterSize - 1] ^= 1;
  put(t, "m1_bad_mac", "\x01" + bad_mac);
  put(t, "m1_truncated", "\x01" + two.bytes.substr(0, two.bytes.size() - 5));

  // Mode 0: object size + footer.
  std::string footer = two.bytes.substr(two.bytes.size() - container::kFooterSize);
  put(t, "m0_valid", std::string(1, '\0') + u64le(two.bytes.size()) + footer);
  put(t, "m0_size_off_by_one", std::string(1, '\0') + u64le(two.bytes.size() + 1) + footer);
  put(t, "m0_tiny_object", std::string(1, '\0') + u64le(40) + footer);
  std::string bad_footer = footer;
  bad_footer[4] = 2;  // version
  put(t, "m0_bad_version", std::string(1, '\0') + u64le(two.bytes.size()) + bad_footer);

  // Mode 2: the zstd frame inside the sealed index; mode 3: the plaintext records.
  for (const auto& [name, c] :
       std::vector<std::pair<std::string, const Built*>>{{"two", &two}, {"empty", &none}, {"four", &many}}) {
    std::string sealed = c->trailer.substr(0, c->trailer.size() - container::kFooterSize);
    std::string z = crypto::open_packed(keys, sealed);
    put(t, "m2_" + name, "\x02" + z);
    std::string plain(ZSTD_getFrameContentSize(z.data(), z.size()), '\0');
    size_t n = ZSTD_decompress(plain.data(), plain.size(), z.data(), z.size());
    if (ZSTD_isError(n)) std::exit(1);
    put(t, "m3_" + name, "\x03" + plain);
    if (name == "empty") {
      ByteWriter v1;  // a version 1 index (no origin) with no entries
      v1.u32(1);
      v1.varint(0);
      put(t, "m3_v1_empty", "\x03" + v1.take());
    }
    if (name == "two") {
      put(t, "m3_two_trailing_byte", "\x03" + plain + "!");
      put(t, "m3_two_truncated", "\x03" + plain.substr(0, plain.size() - 3));
    }
  }
}

// ---------------------------------------------------------------- catalog

void catalog_seeds() {
  const std::string t = "fuzz_catalog_decode";
  put(t, "empty", catalog::encode(catalog::Catalog{}));
  std::string full = catalog::encode(sample_catalog());
  put(t, "sample", full);
  catalog::Catalog one;
  uint32_t f = one.find_or_add_folder(one.find_or_add_host("h"), "/");
  one.add_version(one.folders[f].root, ver(one.add_backup(f, 0), catalog::Type::kDir));
  put(t, "one_folder", catalog::encode(one));
  // Wide (more children than std::sort's insertion-sort cutoff) and deep trees, two backups.
  catalog::Catalog wide = sample_catalog();
  uint32_t wroot = wide.folders[0].root;
  for (int i = 0; i < 40; ++i) {
    uint32_t e = wide.add_entry(wroot, "f" + std::to_string((i * 7919) % 40));
    wide.add_version(e, ver(i % 2, i % 5 == 0 ? catalog::Type::kDir : catalog::Type::kFile, i % 2, 13));
  }
  uint32_t deep = wroot;
  for (int i = 0; i < 30; ++i) {
    deep = wide.add_entry(deep, "d");
    wide.add_version(deep, ver(0, catalog::Type::kDir));
  }
  put(t, "wide_and_deep", catalog::encode(wide));
  put(t, "sample_truncated", full.substr(0, full.size() - 7));
  put(t, "sample_trailing", full + '\0');
  std::string bad_version = full;
  bad_version[4] = 9;
  put(t, "bad_format_version", bad_version);

  // Deltas on sample_catalog(), the base fuzz_catalog_delta applies them to; the first byte
  // picks a strict (even) or a retry's apply (odd).
  const std::string d = "fuzz_catalog_delta";
  catalog::Catalog c = sample_catalog();
  catalog::Mark m = c.mark();
  put(d, "nothing", std::string("\0") + catalog::encode_delta(c, m));
  c.add_backup(0, 1564322870000000000);
  put(d, "unchanged_backup", std::string("\0") + catalog::encode_delta(c, m));
  grow_sample(c);
  std::string grown = catalog::encode_delta(c, m);
  put(d, "backup_strict", std::string("\0") + grown);
  put(d, "backup_retry", std::string("\1") + grown);
  put(d, "backup_truncated", std::string("\0") + grown.substr(0, grown.size() - 5));
}

// ---------------------------------------------------------------- keyfile

void keyfile_seeds() {
  const std::string t = "fuzz_keyfile";
  const crypto::KdfParams tiny{1, 8192};
  std::string kf = crypto::make_keyfile(fuzz::fixed_keys(), fuzz::kPassphrase, tiny);
  put(t, "valid", kf);
  put(t, "valid_ops2_mem64k", crypto::make_keyfile(fuzz::fixed_keys(), fuzz::kPassphrase, {2, 64 << 10}));
  put(t, "wrong_passphrase", crypto::make_keyfile(fuzz::fixed_keys(), "something else", tiny));
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = kf;
    size_t at = s.find(from);
    if (at == std::string::npos) std::exit(1);
    return s.replace(at, from.size(), to);
  };
  put(t, "version2", edit("\"version\": 1", "\"version\": 2"));
  put(t, "kdf_scrypt", edit("\"argon2id\"", "\"scrypt\""));
  put(t, "ops_out_of_range", edit("\"ops\": 1", "\"ops\": 1000"));
  put(t, "mem_too_small", edit("\"mem\": 8192", "\"mem\": 1024"));
  put(t, "salt_bad_base64", edit("\"salt\": \"", "\"salt\": \"*"));
  put(t, "not_json", kf.substr(0, kf.size() / 2));
}

// ---------------------------------------------------------------- lock

void lock_seeds() {
  const std::string t = "fuzz_lock_record";
  repo::LockRecord r;
  r.id = "0123456789abcdef";
  r.host = "bastet";
  r.pid = 4242;
  r.user = "adrian";
  r.started_ns = 1564150070897000000;
  r.lease_until_ns = r.started_ns + 300000000000;
  std::string j = r.to_json();
  put(t, "valid", j);
  repo::LockRecord odd = r;
  odd.pid = -1;
  odd.started_ns = INT64_MIN;
  odd.lease_until_ns = INT64_MAX;
  odd.host = "";
  put(t, "extremes", odd.to_json());
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = j;
    size_t at = s.find(from);
    if (at == std::string::npos) std::exit(1);
    return s.replace(at, from.size(), to);
  };
  put(t, "version2", edit("\"version\": 1", "\"version\": 2"));
  put(t, "pid_string", edit("\"pid\": 4242", "\"pid\": \"4242\""));
  put(t, "pid_float", edit("\"pid\": 4242", "\"pid\": 4242.5"));
  put(t, "no_user", edit("\"user\": \"adrian\",", ""));
  put(t, "not_object", "[1, 2, 3]\n");
}

// ---------------------------------------------------------------- S3 XML

void s3_seeds() {
  const std::string t = "fuzz_s3_xml";
  put(t, "list_page",
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>osiris-seshat</Name>"
      "<Prefix>seshat/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
      "<Contents><Key>seshat/db/00000001</Key><LastModified>2019-07-26T14:07:50.000Z</LastModified>"
      "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>4242</Size><StorageClass>STANDARD</"
      "StorageClass></Contents>"
      "<Contents><Key>seshat/keys</Key><Size>18446744073709551615</Size></Contents>"
      "</ListBucketResult>");
  put(t, "list_last_page",
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b</Key><Size>-1</Size></Contents>"
      "<Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>");
  put(t, "error",
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not "
      "exist.</Message><Key>seshat/locks/lock</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  put(t, "initiate",
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>containers/x</Key>"
      "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId></"
      "InitiateMultipartUploadResult>");
  put(t, "delete_errors",
      "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
      "<Message>Access Denied</Message></Error></DeleteResult>");
  put(t, "doctype_cdata",
      "<!DOCTYPE x [<!ENTITY e \"boom\">]><ListBucketResult><Contents><Key><![CDATA[k<1>]]></Key>"
      "<Size>7</Size></Contents><IsTruncated>true</IsTruncated></ListBucketResult>");
  put(t, "not_xml", "<html><body>502 Bad Gateway</body>");
}

// ---------------------------------------------------------------- shell

void shell_seeds() {
  const std::string t = "fuzz_shell";
  // Byte 0: flags (see fuzz_shell.cc). 0 = script, 2 = interactive, 8 = command-line words.
  put(t, "help", std::string("\x00", 1) + "HELP\nLIST ?\nLIST BACKUPS\nLIST 10 FILES\n");
  put(t, "interactive_pending", std::string("\x02", 1) + "SET\nWAIT YES\nSELECT\nFOLDER\n/home/adrian\nCD ..\nCD 3\n");
  put(t, "restore",
      std::string("\x00", 1) +
          "RESTORE TIMESTAMP 26-Jul-2019 14:07\nRESTORE ADD FILE 3\nRESTORE TARGET /tmp/r\nRESTORE GO\n");
  put(t, "grammar",
      std::string("\x02", 1) +
          "GRAMMAR CHECK\nGRAMMAR PRINT\nGRAMMAR PRUNE\nGRAMMAR CHECK\nGRAMMAR PRUNE SET MAX 10 GB\n");
  put(t, "quoted",
      std::string("\x00", 1) + "EXCLUDE \"\\.iso$\" INCLUDE \"/My \\\"Docs\\\"\"\nSEARCH CONTAINS \"a b\"\n");
  put(t, "unterminated", std::string("\x00", 1) + "STORE LOCAL \"/tmp/x\n");
  put(t, "argv", std::string("\x08", 1) + "SELECT\nBACKUP\n26-Jul-2019\n14:07:50\nLIST\nFILES");
  put(t, "ambiguous", std::string("\x02", 1) + "S\nRE\nSE B 1\nDB UN\nsel ho bastet cd exit\n");
  put(t, "failing", std::string("\x03", 1) + "SET DRYRUN YES\nBACKUP /home\nbye\n");
  put(t, "s3",
      std::string("\x00", 1) +
          "S3 BUCKET b S3 REGION eu-west-2 S3 ENDPOINT DEFAULT S3 STYLE PATH S3 CLASS GLACIER STORE S3\n");
}

// ---------------------------------------------------------------- dictionaries
// libFuzzer -dict files, <dir>/<target>.dict (fuzz/run.sh passes them on).

void put_dict(const std::string& target, const std::set<std::string>& words) {
  std::string text;
  for (const auto& w : words) {
    text += '"';
    for (char c : w) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02X", u);
        text += hex;
        continue;
      }
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += "\"\n";
  }
  std::ofstream f(g_dir + "/" + target + ".dict", std::ios::trunc);
  f << text;
}

void dictionaries() {
  // Every keyword of the shipped grammar, plus typed-argument shapes.
  std::set<std::string> words = {"?",     "\"",       "\\\"", " ", "\n", "26-Jul-2019",
                                 "14:07", "14:07:50", "..",   "/", "-1", "999999999"};
  std::function<void(const shell::Node&)> rec = [&](const shell::Node& n) {
    for (const auto& k : n.keywords) words.insert(k);
    for (const auto& c : n.children) rec(c);
  };
  rec(shell::command_table());
  put_dict("fuzz_shell", words);
  put_dict("fuzz_s3_xml", {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                           "<ListBucketResult>",
                           "</ListBucketResult>",
                           "<Contents>",
                           "</Contents>",
                           "<Key>",
                           "</Key>",
                           "<Size>",
                           "</Size>",
                           "<IsTruncated>",
                           "</IsTruncated>",
                           "true",
                           "false",
                           "<NextContinuationToken>",
                           "</NextContinuationToken>",
                           "<Error>",
                           "</Error>",
                           "<Code>",
                           "</Code>",
                           "<Message>",
                           "</Message>",
                           "<InitiateMultipartUploadResult>",
                           "</InitiateMultipartUploadResult>",
                           "<UploadId>",
                           "</UploadId>",
                           "<DeleteResult>",
                           "</DeleteResult>",
                           "<![CDATA[",
                           "]]>",
                           "<!--",
                           "-->",
                           "<!DOCTYPE",
                           "&amp;",
                           "&#x41;",
                           "&#65;",
                           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
                           "/>"});
  std::set<std::string> json = {"{",
                                "}",
                                "[",
                                "]",
                                ":",
                                ",",
                                "null",
                                "true",
                                "false",
                                "1e300",
                                "-1",
                                "1.5",
                                "18446744073709551616",
                                "9223372036854775807",
                                "\\u0000",
                                "\"version\"",
                                "\"id\"",
                                "\"host\"",
                                "\"pid\"",
                                "\"user\"",
                                "\"started_ns\"",
                                "\"lease_until_ns\""};
  put_dict("fuzz_lock_record", json);
  json.insert({"\"kdf\"", "\"argon2id\"", "\"ops\"", "\"mem\"", "\"salt\"", "\"data\"", "8192", "65536", "=="});
  put_dict("fuzz_keyfile", json);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gen_corpus <dir>\n");
    return 2;
  }
  g_dir = argv[1];
  container_seeds();
  catalog_seeds();
  keyfile_seeds();
  lock_seeds();
  s3_seeds();
  shell_seeds();
  dictionaries();
  return 0;
}
