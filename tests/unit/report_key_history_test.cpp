#include <catch2/catch.hpp>
#include <fstream>

#include "broker/verification/report_key_history.hpp"
#include "crypto/hash.hpp"
#include "temp_dir.hpp"

namespace b = hfv::broker;
namespace crypto = hfv::crypto;
using nlohmann::json;

namespace {

crypto::Ed25519Signer key_from(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  return crypto::Ed25519Signer::from_seed(seed);
}

// The report text as the broker sends it: canonical, signed.
std::string signed_report(const crypto::Ed25519Signer& signer, const std::string& generated_at) {
  json report = {
      {"verification_id", "ver_1"}, {"outcome", "eligible"}, {"generated_at", generated_at}};
  b::sign_report(report, signer);
  return report.dump();
}

constexpr const char* kFirstRotation = "2026-11-01T10:00:00.000Z";
constexpr const char* kSecondRotation = "2026-11-20T10:00:00.000Z";

// Three keys: a (until the first rotation), b (until the second), c (now).
b::ReportKeyHistory three_keys(const crypto::Ed25519Signer& a, const crypto::Ed25519Signer& k2,
                               const crypto::Ed25519Signer& c) {
  auto one = b::rotate_report_key_history(b::initial_report_key_history(a.public_key()), a, k2,
                                          kFirstRotation);
  REQUIRE(one.ok());
  auto two = b::rotate_report_key_history(*one, k2, c, kSecondRotation);
  REQUIRE(two.ok());
  return *two;
}

}  // namespace

TEST_CASE("unit: A rotated report key history verifies from any of its keys and round-trips through text",
          "[report][signature][rotation]") {
  const auto a = key_from(1), k2 = key_from(2), c = key_from(3), stranger = key_from(9);
  const auto history = three_keys(a, k2, c);
  REQUIRE(history.keys.size() == 3);
  CHECK(history.current().public_key == c.public_key());
  CHECK_FALSE(history.keys[0].valid_from.has_value());
  CHECK(history.keys[0].valid_until == std::string(kFirstRotation));
  CHECK(history.keys[1].valid_from == std::string(kFirstRotation));
  CHECK_FALSE(history.keys[2].valid_until.has_value());

  auto reread = b::parse_report_key_history(history.json.dump(2));
  REQUIRE(reread.ok());
  CHECK(reread->keys.size() == 3);
  CHECK(b::anchor_report_key_history(*reread, a.public_key()).ok());  // a pinned first key
  CHECK(b::anchor_report_key_history(*reread, c.public_key()).ok());  // the published current key
  const auto foreign = b::anchor_report_key_history(*reread, stranger.public_key());
  REQUIRE_FALSE(foreign.ok());
  CHECK(foreign.error().code == "unanchored");

  // Rotation only from the current key, forward in time.
  CHECK_FALSE(b::rotate_report_key_history(history, a, stranger, "2026-12-01T00:00:00.000Z").ok());
  CHECK_FALSE(b::rotate_report_key_history(history, c, stranger, "2026-11-19T00:00:00.000Z").ok());
  CHECK_FALSE(b::rotate_report_key_history(history, c, k2, "2026-12-01T00:00:00.000Z")
                  .ok());  // a key again
  CHECK(b::rotate_report_key_history(history, c, stranger, "2026-12-01T00:00:00.000Z").ok());
}

TEST_CASE("unit: A report key history with a forged, re-dated, dropped or unsigned link is refused",
          "[report][signature][rotation]") {
  const auto a = key_from(1), k2 = key_from(2), c = key_from(3), forger = key_from(7);
  const auto history = three_keys(a, k2, c);
  const json good = history.json;
  REQUIRE(b::check_report_key_history(good).ok());

  SECTION("a successor replaced by the forger's key, signed by the forger") {
    json forged = good;
    b::ReportKey retired = history.keys[1];
    b::ReportKey fake{b::key_id(forger.public_key()), forger.public_key(),
                      std::string(kSecondRotation), std::nullopt};
    forged["keys"][2]["key_id"] = fake.key_id;
    forged["keys"][2]["public_key_pem"] = crypto::ed25519_public_key_pem(forger.public_key());
    forged["keys"][2]["signature"] =
        crypto::to_hex(forger.sign(b::rotation_link_bytes(retired, fake)));
    const auto r = b::check_report_key_history(forged);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_link");
    CHECK(r.error().message.find("predecessor_signature") != std::string::npos);
  }
  SECTION("a retired key's validity stretched") {
    json redated = good;
    redated["keys"][0]["valid_until"] = "2026-11-05T10:00:00.000Z";
    redated["keys"][1]["valid_from"] = "2026-11-05T10:00:00.000Z";
    const auto r = b::check_report_key_history(redated);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_link");
  }
  SECTION("a key dropped from the middle") {
    json dropped = good;
    dropped["keys"].erase(1);
    const auto r = b::check_report_key_history(dropped);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_history");  // c's valid_from is not a's valid_until
  }
  SECTION("a cross-signature removed") {
    json half = good;
    half["keys"][1].erase("signature");
    CHECK(b::check_report_key_history(half).error().code == "bad_link");
    half = good;
    half["keys"][1].erase("predecessor_signature");
    CHECK(b::check_report_key_history(half).error().code == "bad_link");
  }
  SECTION("shape: a key id not of its key, a current key with an end, a retired key without one") {
    json bad = good;
    bad["keys"][1]["key_id"] = b::key_id(a.public_key());
    CHECK(b::check_report_key_history(bad).error().code == "bad_history");
    bad = good;
    bad["keys"][2]["valid_until"] = "2026-12-01T00:00:00.000Z";
    CHECK(b::check_report_key_history(bad).error().code == "bad_history");
    bad = good;
    bad["keys"][0].erase("valid_until");
    CHECK(b::check_report_key_history(bad).error().code == "bad_history");
    bad = good;
    bad["format"] = "hfv-report-keys/v0";
    CHECK(b::check_report_key_history(bad).error().code == "bad_history");
    CHECK_FALSE(b::parse_report_key_history("{").ok());
  }
}

TEST_CASE("unit: A report is checked under the history key its key_id names and within that key's validity",
          "[report][signature][rotation]") {
  const auto a = key_from(1), k2 = key_from(2), c = key_from(3), stranger = key_from(9);
  const auto history = three_keys(a, k2, c);
  using b::ReportCheck;
  const auto check = [&](const std::string& text) {
    return b::verify_report_with_history(text, history).result.check;
  };

  const auto old_report =
      b::verify_report_with_history(signed_report(a, "2026-10-31T09:00:00.123Z"), history);
  CHECK(old_report.result.check == ReportCheck::kValid);
  REQUIRE(old_report.key != nullptr);
  CHECK(old_report.key->key_id == b::key_id(a.public_key()));
  CHECK(check(signed_report(k2, "2026-11-01T10:00:00.000Z")) ==
        ReportCheck::kValid);  // b from its first moment
  CHECK(check(signed_report(c, "2026-12-04T00:00:00.000Z")) == ReportCheck::kValid);

  // A retired key signing after its valid_until: refused, also at the very moment.
  CHECK(check(signed_report(a, "2026-11-02T00:00:00.000Z")) == ReportCheck::kOutsideValidity);
  CHECK(check(signed_report(a, kFirstRotation)) == ReportCheck::kOutsideValidity);
  // A key signing before it existed.
  CHECK(check(signed_report(c, "2026-11-19T00:00:00.000Z")) == ReportCheck::kOutsideValidity);
  // No time to place it: refused when the key has bounds.
  json undated = {{"verification_id", "ver_2"}, {"outcome", "eligible"}};
  b::sign_report(undated, k2);
  CHECK(check(undated.dump()) == ReportCheck::kOutsideValidity);
  // A key not in the history.
  CHECK(check(signed_report(stranger, "2026-12-04T00:00:00.000Z")) == ReportCheck::kUnknownKey);
  // Claiming a history key it was not signed by.
  json relabelled = json::parse(signed_report(stranger, "2026-12-04T00:00:00.000Z"));
  relabelled["signature"]["key_id"] = b::key_id(c.public_key());
  CHECK(check(relabelled.dump()) == ReportCheck::kBadSignature);
  // The strict text checks still hold.
  CHECK(check(json::parse(signed_report(c, "2026-12-04T00:00:00.000Z")).dump(2)) ==
        ReportCheck::kNotCanonical);
  CHECK(check("[1]") == ReportCheck::kNotJson);

  // A broker that never rotated: its one key, no bounds, any time.
  const auto only = b::initial_report_key_history(a.public_key());
  CHECK(b::verify_report_with_history(signed_report(a, "2030-01-01T00:00:00.000Z"), only)
            .result.check == ReportCheck::kValid);
}

TEST_CASE("unit: The history file beside the signing key must end with that key",
          "[report][signature][rotation]") {
  hfv::testing::TempDir dir;
  const auto key_file = dir.path / "report-signing.key";
  CHECK(b::report_key_history_path(key_file) == dir.path / "report-signing.history.json");
  const auto a = key_from(1), k2 = key_from(2), c = key_from(3);

  auto none = b::load_report_key_history(key_file, a.public_key());  // no file: the one key
  REQUIRE(none.ok());
  CHECK(none->keys.size() == 1);

  const auto history = three_keys(a, k2, c);
  std::ofstream(b::report_key_history_path(key_file)) << history.json.dump(2);
  auto loaded = b::load_report_key_history(key_file, c.public_key());
  REQUIRE(loaded.ok());
  CHECK(loaded->keys.size() == 3);
  auto stale = b::load_report_key_history(key_file, k2.public_key());
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == "history_mismatch");

  json forged = history.json;
  forged["keys"][1]["valid_until"] = "2026-11-21T10:00:00.000Z";
  std::ofstream(b::report_key_history_path(key_file), std::ios::trunc) << forged.dump(2);
  auto broken = b::load_report_key_history(key_file, c.public_key());
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().code != "history_mismatch");
}
