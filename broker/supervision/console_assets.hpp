// The supervisor console's static files (broker/supervision/console/), embedded in the
// daemon at build time by broker/supervision/console/embed.cmake so that an installed
// brokerd needs no asset folder and serves exactly what was tested.
// Thread-safety: immutable data.
#pragma once

#include <string_view>

namespace hfv::broker {

struct ConsoleAsset {
  std::string_view path;          // relative to /console/, e.g. "index.html"
  std::string_view content_type;  // with charset for text
  std::string_view data;
};

// nullptr when there is no such file.
const ConsoleAsset* find_console_asset(std::string_view path);

}  // namespace hfv::broker
