#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/files.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

fs::perms perms_of(const fs::path& path) { return fs::status(path).permissions() & fs::perms::mask; }

}  // namespace

TEST_CASE("files: write_new_file sets the exact mode and never overwrites", "[common][files]") {
  const hfv::testing::TempDir dir("hfv-files-test");
  const fs::path path = dir.path / "file.txt";
  REQUIRE(hfv::write_new_file(path, "hello", 0640).ok());
  CHECK(slurp(path) == "hello");
  CHECK(perms_of(path) == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  const auto again = hfv::write_new_file(path, "bye", 0600);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == "exists");
  CHECK(slurp(path) == "hello");

  const auto no_dir = hfv::write_new_file(dir.path / "nope" / "file.txt", "x", 0600);
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().code == "io_error");
}

TEST_CASE("files: replace_file_atomically replaces the content and mode and leaves no temporary file",
          "[common][files]") {
  const hfv::testing::TempDir dir("hfv-files-test");
  const fs::path path = dir.path / "port";
  REQUIRE(hfv::replace_file_atomically(path, "1\n", 0600).ok());
  CHECK(slurp(path) == "1\n");
  REQUIRE(hfv::replace_file_atomically(path, "22\n", 0644).ok());
  CHECK(slurp(path) == "22\n");
  CHECK(perms_of(path) == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  const auto no_dir = hfv::replace_file_atomically(dir.path / "nope" / "port", "x", 0600);
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().code == "io_error");
}
