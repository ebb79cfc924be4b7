// A temporary directory removed when the test ends.
#pragma once

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

namespace hfv::testing {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "hfv-test") {
    // Hex, 16 characters: never a run of 18 digits, which the broker's
    // logs redact as a possible ID number (broker/ops/log.hpp), so paths
    // under this folder stay readable in the logs tests check.
    std::random_device rd;
    char name[17];
    (void)std::snprintf(name, sizeof name, "%08x%08x", rd(), rd());
    path = std::filesystem::temp_directory_path() / (prefix + "-" + name);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace hfv::testing
