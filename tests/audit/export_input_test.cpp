#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "audit/export.hpp"

// Inputs the fuzz target tests/fuzz/fuzz_audit_export found (checked in
// under tests/fuzz/regressions/fuzz_audit_export/): JSON of the wrong type
// where the verifier expected an object or a string made nlohmann's value()
// throw, and brokerctl audit verify-export died on it. Each is now a clean
// answer: not an export, or a report saying what is wrong.

namespace {

std::string regression(const std::string& name) {
  std::ifstream in(std::string(HFV_SOURCE_DIR) + "/tests/fuzz/regressions/fuzz_audit_export/" + name,
                   std::ios::binary);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const hfv::crypto::Ed25519PublicKey kKey{};

}  // namespace

TEST_CASE("audit: an export whose header line is not a JSON object is not an export", "[audit][export]") {
  const auto report = hfv::audit::verify_export(regression("header-not-an-object-5636f877"), kKey);
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == "bad_export");
  CHECK_FALSE(hfv::audit::verify_export("3\n{}\n", kKey).ok());
  CHECK_FALSE(hfv::audit::verify_export("[]\n{\"type\":\"end\"}\n", kKey).ok());
}

TEST_CASE("audit: an export header whose type is not a string is not an export", "[audit][export]") {
  const auto report = hfv::audit::verify_export(regression("header-type-not-a-string"), kKey);
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == "bad_export");
}

TEST_CASE("audit: a tree head whose format is not a string is malformed", "[audit][export]") {
  const auto report = hfv::audit::verify_export(regression("tree-head-format-not-a-string"), kKey);
  REQUIRE(report.ok());
  CHECK_FALSE(report->ok);
  CHECK(report->problem == "the export's tree head is malformed");
}
