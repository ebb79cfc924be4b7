#include <catch2/catch.hpp>

#include "broker/verification/report_signature.hpp"
#include "temp_dir.hpp"

namespace b = hfv::broker;
namespace crypto = hfv::crypto;
using nlohmann::json;

TEST_CASE("unit: Signed reports verify, and one changed character does not", "[report][signature]") {
  hfv::testing::TempDir dir;
  REQUIRE(crypto::create_ed25519_key_file(dir.path / "sign.key").ok());
  auto signer = crypto::Ed25519Signer::load(dir.path / "sign.key");
  REQUIRE(signer.ok());
  json report = {{"verification_id", "ver_1"},
                 {"outcome", "eligible"},
                 {"figures", {{"monetary_assets_per_capita", "6250.25"}}},
                 {"rules", json::array({{{"rule", "savings-cap-24m"}, {"result", "pass"}}})}};
  b::sign_report(report, *signer);
  CHECK(report["signature"]["alg"] == "Ed25519");
  CHECK(report["signature"]["key_id"] == b::key_id(signer->public_key()));
  CHECK(b::verify_report_signature(report, signer->public_key()));

  // Round trip through text, as a saved file would be.
  const json reloaded = json::parse(report.dump(2));
  CHECK(b::verify_report_signature(reloaded, signer->public_key()));

  json tampered = report;
  tampered["figures"]["monetary_assets_per_capita"] = "6250.26";
  CHECK_FALSE(b::verify_report_signature(tampered, signer->public_key()));
  tampered = report;
  tampered["outcome"] = "ineligible";
  CHECK_FALSE(b::verify_report_signature(tampered, signer->public_key()));
  json unsigned_report = report;
  unsigned_report.erase("signature");
  CHECK_FALSE(b::verify_report_signature(unsigned_report, signer->public_key()));

  REQUIRE(crypto::create_ed25519_key_file(dir.path / "other.key").ok());
  auto other = crypto::Ed25519Signer::load(dir.path / "other.key");
  CHECK_FALSE(b::verify_report_signature(report, other->public_key()));
}
