// A temporary directory removed when the test ends.
#pragma once

#include <filesystem>
#include <random>
#include <string>

namespace hfv::testing {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "hfv-test") {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
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
