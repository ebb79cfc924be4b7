// Reply: one HTTP answer as the simulator's pure parts produce it (status,
// content type, extra headers, body), before the server puts it on the wire.
//
// Ownership: plain value type. Thread-safety: as for any value type.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace hfv::sim {

inline constexpr const char* kJsonContentType = "application/json; charset=utf-8";

struct Reply {
  int status = 200;
  std::string content_type = kJsonContentType;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
  std::string body;
};

}  // namespace hfv::sim
