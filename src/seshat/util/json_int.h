// Strict integer fields of JSON documents we read from the store or from settings files.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "seshat/util/error.h"

namespace seshat {

// Reads an integer field strictly: a JSON integer within T's range, else Error(kCorruption).
template <typename T>
T json_int(const nlohmann::json& j, const char* key, const char* what) {
  const nlohmann::json& v = j.at(key);
  bool ok = v.is_number_integer() &&
            (v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                                    : v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                          (std::numeric_limits<T>::is_signed || v.get<int64_t>() >= 0) &&
                                          static_cast<uint64_t>(std::max<int64_t>(v.get<int64_t>(), 0)) <=
                                              static_cast<uint64_t>(std::numeric_limits<T>::max()));
  if (!ok) throw Error(ErrorKind::kCorruption, std::string(what) + ": field " + key + " is not a valid number");
  return v.is_number_unsigned() ? static_cast<T>(v.get<uint64_t>()) : static_cast<T>(v.get<int64_t>());
}

}  // namespace seshat
