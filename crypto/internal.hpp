// Helpers shared by the crypto/ sources. Not part of the public API: include
// only from crypto/*.cpp. Free of OpenSSL headers like the public headers.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace hfv::crypto::internal {

// Overwrites the string's bytes (OPENSSL_cleanse) and empties it.
void wipe(std::string& s);

// Holds secret text and wipes it when it goes out of scope.
class WipedString {
 public:
  WipedString() = default;
  explicit WipedString(std::string s) : s_(std::move(s)) {}
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString() { wipe(s_); }
  std::string& str() { return s_; }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// Reads a file that must be private to its owner. Error codes: "not_found",
// "key_file_mode" (group or others have any permission), "io_error".
Result<std::string> read_private_file(const std::filesystem::path& path);

}  // namespace hfv::crypto::internal
