#include <catch2/catch.hpp>

#include "broker/verification/report_signature.hpp"
#include "crypto/hash.hpp"
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

TEST_CASE("unit: A saved report is checked from its bytes: duplicate members, re-serialised text, an uncovered key id and a foreign format are refused",
          "[report][signature]") {
  hfv::testing::TempDir dir;
  REQUIRE(crypto::create_ed25519_key_file(dir.path / "sign.key").ok());
  auto signer = crypto::Ed25519Signer::load(dir.path / "sign.key");
  REQUIRE(signer.ok());
  const auto& key = signer->public_key();
  json report = {{"verification_id", "ver_1"}, {"outcome", "ineligible"}, {"name", "张伟\u0001"}};
  b::sign_report(report, *signer);
  const std::string text = report.dump();

  // The signed bytes: the domain prefix, then the report without the
  // signature's value, members sorted, no whitespace, UTF-8 as is.
  const std::string bytes = b::signed_report_bytes(report);
  CHECK(bytes.rfind("hfv-report/v1\n{", 0) == 0);
  CHECK(bytes.find(R"("signature":{"alg":"Ed25519","format":"hfv-report/v1","key_id":")") != std::string::npos);
  CHECK(bytes.find("\"value\"") == std::string::npos);
  CHECK(bytes.find("张伟\\u0001") != std::string::npos);

  CHECK(b::verify_report_text(text, key).check == b::ReportCheck::kValid);
  CHECK(b::verify_report_text(text + "\n", key).check == b::ReportCheck::kValid);  // a file's last newline

  // A second "outcome" first: a first-wins reader sees "eligible", nlohmann the signed one.
  std::string twice = text;
  twice.insert(1, R"("outcome":"eligible",)");
  CHECK(b::verify_report_text(twice, key).check == b::ReportCheck::kDuplicateKey);
  // Pretty-printed or reordered: not the bytes the broker sent.
  CHECK(b::verify_report_text(report.dump(2), key).check == b::ReportCheck::kNotCanonical);
  // alg and key_id are covered: changed, the signature no longer matches.
  json relabelled = report;
  relabelled["signature"]["key_id"] = "0000000000000000";
  CHECK(b::verify_report_text(relabelled.dump(), key).check == b::ReportCheck::kOtherKey);
  json forged_format = report;
  forged_format["signature"]["format"] = "hfv-report/v2";
  CHECK(b::verify_report_text(forged_format.dump(), key).check == b::ReportCheck::kUnsigned);
  // Stripping the format (to pass as a legacy report) breaks the signature.
  json stripped = report;
  stripped["signature"].erase("format");
  CHECK(b::verify_report_text(stripped.dump(), key).check == b::ReportCheck::kBadSignature);
  CHECK(b::verify_report_text("[1]", key).check == b::ReportCheck::kNotJson);
  CHECK(b::verify_report_text("{\"a\":", key).check == b::ReportCheck::kNotJson);

  // A report signed before hfv-report/v1 still verifies, said to be legacy.
  json legacy = {{"verification_id", "ver_0"}, {"outcome", "eligible"}};
  const auto value = signer->sign(legacy.dump());
  legacy["signature"] = {{"alg", "Ed25519"}, {"key_id", b::key_id(key)}, {"value", crypto::to_hex(value)}};
  CHECK(b::verify_report_text(legacy.dump(), key).check == b::ReportCheck::kValidLegacy);
}
