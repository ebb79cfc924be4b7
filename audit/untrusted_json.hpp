// Members of untrusted JSON (an audit export, a published signing-key
// history): json::value() throws when the document is not an object or the
// member has another type, so their readers take members with these.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace hfv::audit::untrusted {

// A string member, "" when absent or not a string.
inline std::string text_of(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An integer member, `absent` when absent or not an integer.
inline std::int64_t integer_of(const nlohmann::json& j, const char* key, std::int64_t absent) {
  if (!j.is_object()) return absent;
  const auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : absent;
}

}  // namespace hfv::audit::untrusted
