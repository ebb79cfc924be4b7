// A peer broker's signed answer (broker/verification/peer_answer.hpp): read
// only when it is exactly what the peer signed, for this request and the
// pairs asked.
#include <array>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "broker/verification/peer_answer.hpp"
#include "broker/verification/report_signature.hpp"

using hfv::FailureKind;
using hfv::Money;
using hfv::Source;
using hfv::SourceResult;
using hfv::SourceStatus;
using hfv::broker::AskedPair;
using hfv::broker::PeerAnswer;
using hfv::broker::peer_answer_text;
using hfv::broker::read_peer_answer;

namespace {

hfv::crypto::Ed25519Signer signer_of(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  return hfv::crypto::Ed25519Signer::from_seed(seed);
}

PeerAnswer hanzhong_answer() {
  PeerAnswer a;
  a.request_id = "vrf_0123456789abcdef01234567";
  a.answering_centre = "hanzhong";
  a.answered_at = "2026-12-05T10:00:00Z";
  SourceResult bank;
  bank.member_index = 1;
  bank.source = Source::kBank;
  bank.status = SourceStatus::kOk;
  bank.records.holdings.push_back({"汉中银行", "6222****0010", Money::from_yuan(1234), std::nullopt});
  SourceResult tax;
  tax.member_index = 1;
  tax.source = Source::kTax;
  tax.status = SourceStatus::kTimeout;
  tax.failure = FailureKind::kTimeout;
  SourceResult hukou;
  hukou.member_index = 1;
  hukou.source = Source::kHukou;
  hukou.status = SourceStatus::kNotFound;
  a.results = {bank, tax, hukou};
  return a;
}

const std::vector<AskedPair> kAsked = {{1, Source::kBank}, {1, Source::kTax}, {1, Source::kHukou}};

}  // namespace

TEST_CASE("peer answer: what the peer signed is read back, statuses, failures and records as sent") {
  const auto peer = signer_of(7);
  const std::string text = peer_answer_text(hanzhong_answer(), peer);
  auto read = read_peer_answer(text, peer.public_key(), "vrf_0123456789abcdef01234567", kAsked);
  REQUIRE(read);
  CHECK(read->answering_centre == "hanzhong");
  REQUIRE(read->results.size() == 3);
  CHECK(read->results[0].status == SourceStatus::kOk);
  REQUIRE(read->results[0].records.holdings.size() == 1);
  CHECK(read->results[0].records.holdings[0].amount == Money::from_yuan(1234));
  CHECK(read->results[1].status == SourceStatus::kTimeout);
  CHECK(read->results[1].failure == FailureKind::kTimeout);
  CHECK(read->results[2].status == SourceStatus::kNotFound);
  // Neither ID numbers nor names travel back.
  CHECK(text.find("id_number") == std::string::npos);
}

TEST_CASE("peer answer: anything but the signed bytes, from the pinned key, is refused as a signature failure") {
  const auto peer = signer_of(7);
  const std::string text = peer_answer_text(hanzhong_answer(), peer);
  const std::string id = "vrf_0123456789abcdef01234567";
  SECTION("another key") {
    auto read = read_peer_answer(text, signer_of(9).public_key(), id, kAsked);
    REQUIRE_FALSE(read);
    CHECK(read.error().code == "peer_signature_invalid");
  }
  SECTION("one amount changed") {
    std::string edited = text;
    const auto at = edited.find("123400");
    REQUIRE(at != std::string::npos);
    edited.replace(at, 6, "000001");
    auto read = read_peer_answer(edited, peer.public_key(), id, kAsked);
    REQUIRE_FALSE(read);
    CHECK(read.error().code == "peer_signature_invalid");
  }
  SECTION("re-spaced") {
    const std::string pretty = nlohmann::json::parse(text).dump(2);
    CHECK(read_peer_answer(pretty, peer.public_key(), id, kAsked).error().code == "peer_signature_invalid");
  }
  SECTION("a signed report is not an answer") {
    nlohmann::json report = nlohmann::json::parse(text);
    report.erase("signature");
    hfv::broker::sign_report(report, peer);  // hfv-report/v1
    const std::string as_report = report.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    CHECK(read_peer_answer(as_report, peer.public_key(), id, kAsked).error().code == "peer_signature_invalid");
  }
}

TEST_CASE("peer answer: a signed answer for another request or other pairs is refused") {
  const auto peer = signer_of(7);
  const std::string text = peer_answer_text(hanzhong_answer(), peer);
  auto other_request = read_peer_answer(text, peer.public_key(), "vrf_ffffffffffffffffffffffff", kAsked);
  REQUIRE_FALSE(other_request);
  CHECK(other_request.error().code == "peer_answer_invalid");

  // Fewer pairs asked than answered: a pair not asked.
  const std::vector<AskedPair> two = {{1, Source::kBank}, {1, Source::kTax}};
  auto extra = read_peer_answer(text, peer.public_key(), "vrf_0123456789abcdef01234567", two);
  REQUIRE_FALSE(extra);
  CHECK_THAT(extra.error().message, Catch::Contains("not asked"));

  // More asked than answered: one left unanswered.
  std::vector<AskedPair> four = kAsked;
  four.emplace_back(0, Source::kBank);
  auto missing = read_peer_answer(text, peer.public_key(), "vrf_0123456789abcdef01234567", four);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("unanswered"));

  // A failure on a status that is not a failure.
  PeerAnswer odd = hanzhong_answer();
  odd.results[2].failure = FailureKind::kNetwork;
  auto bad = read_peer_answer(peer_answer_text(odd, peer), peer.public_key(), "vrf_0123456789abcdef01234567", kAsked);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == "peer_answer_invalid");
}
