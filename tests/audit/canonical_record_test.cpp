// The canonical record writer (audit/audit_log.cpp) against the nlohmann
// form every earlier hfv-audit/v2 record was written in: the same bytes for
// every combination of present fields and for values that need escaping,
// so leaf hashes and personal commitments of old and new records agree.
#include <catch2/catch.hpp>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "crypto/hash.hpp"

namespace audit = hfv::audit;
namespace crypto = hfv::crypto;
using nlohmann::json;

namespace {

// The writer as it was before it was written by hand (commit 6469c54),
// with the "agency.answers" list added later in the same nlohmann form.
audit::CanonicalRecord nlohmann_form(const audit::AuditRecord& r, std::int64_t seq, const std::string& ts,
                                     const std::string& salt) {
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  json e = json::object();
  e["seq"] = seq;
  e["ts"] = ts;
  e["action"] = r.action;
  auto put = [](json& j, const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  put(e, "principal", r.principal);
  put(e, "centre", r.centre);
  put(e, "programme", r.programme);
  put(e, "jurisdiction", r.jurisdiction);
  // An "agency.answers" record's source is its answers' sources.
  std::string source = r.source;
  if (!r.answers.empty()) {
    source.clear();
    for (const auto& a : r.answers) source += (&a == &r.answers.front() ? "" : ",") + a.source;
  }
  put(e, "source", source);
  put(e, "status", r.status);
  put(e, "outcome", r.outcome);
  put(e, "digest", r.digest);
  put(e, "detail", r.detail);
  put(e, "cert_sha256", r.cert_sha256);
  put(e, "cert_serial", r.cert_serial);
  if (r.latency_ms >= 0) e["latency_ms"] = r.latency_ms;
  for (const auto& a : r.answers) {
    json one = json::object();
    put(one, "source", a.source);
    put(one, "status", a.status);
    put(one, "digest", a.digest);
    put(one, "detail", a.detail);
    if (a.latency_ms >= 0) one["latency_ms"] = a.latency_ms;
    e["answers"].push_back(std::move(one));
  }
  json p = json::object();
  put(p, "operator", r.operator_id);
  put(p, "request_id", r.request_id);
  put(p, "case_id", r.case_id);
  put(p, "authorization_id", r.authorization_id);
  put(p, "member", r.member);
  audit::CanonicalRecord out;
  if (!p.empty()) {
    p["salt"] = salt;
    out.personal = dump(p);
    e["personal_sha256"] = crypto::to_hex(crypto::sha256(out.personal));
  }
  out.envelope = dump(e);
  return out;
}

constexpr int kFields = 17;  // the AuditRecord strings below

std::string& field(audit::AuditRecord& r, int i) {
  std::string* fields[kFields] = {&r.action,     &r.principal,        &r.operator_id, &r.centre,
                                  &r.request_id, &r.case_id,          &r.authorization_id,
                                  &r.programme,  &r.jurisdiction,     &r.member,      &r.source,
                                  &r.status,     &r.outcome,          &r.digest,      &r.detail,
                                  &r.cert_sha256, &r.cert_serial};
  return *fields[i];
}

// Plain values and values nlohmann escapes or replaces: quote, backslash,
// control characters (named and \u00XX), DEL, Chinese text, a four-byte
// character, and invalid or truncated UTF-8.
const std::vector<std::string>& values() {
  static const std::vector<std::string> v = {
      "ok",
      "demo-case-system",
      "230102",
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "say \"no\"",
      "back\\slash",
      "tab\there\nnewline\r\b\f",
      std::string("nul\0byte\x01\x1f", 10),
      "del\x7f",
      "测试 中国工商银行",
      "\xF0\x9F\x98\x80 emoji",
      "bad \xC3( utf8",
      "truncated \xE6\xB5",
      "\xFF\xFE lone bytes",
      "/slash and spaces ",
  };
  return v;
}

}  // namespace

TEST_CASE("audit: The canonical record writer gives the nlohmann bytes for every field alone",
          "[audit][canonical]") {
  const std::string salt = "00112233445566778899aabbccddeeff";
  for (int f = 0; f < kFields; ++f) {
    for (const auto& value : values()) {
      for (const std::int64_t latency : {std::int64_t{-1}, std::int64_t{0}, std::int64_t{1234567}}) {
        audit::AuditRecord r;
        field(r, f) = value;
        r.latency_ms = latency;
        const auto expected = nlohmann_form(r, 42, "2026-12-05T08:00:00.123Z", salt);
        const auto written = audit::canonical_record(r, 42, "2026-12-05T08:00:00.123Z", salt);
        INFO("field " << f << " value " << json(value).dump(-1, ' ', true, json::error_handler_t::replace));
        CHECK(written.envelope == expected.envelope);
        CHECK(written.personal == expected.personal);
      }
    }
  }
}

TEST_CASE("audit: The canonical record writer gives the nlohmann bytes for random field combinations",
          "[audit][canonical]") {
  std::mt19937 random(20261205);  // NOLINT(cert-msc32-c,cert-msc51-cpp): fixed on purpose, so a failure can be replayed
  const auto& pool = values();
  int with_personal = 0;
  int with_answers = 0;
  for (int round = 0; round < 5000; ++round) {
    audit::AuditRecord r;
    for (int f = 0; f < kFields; ++f) {
      if (random() % 2 == 0) field(r, f) = pool[random() % pool.size()];
    }
    r.latency_ms = random() % 3 == 0 ? -1 : static_cast<std::int64_t>(random() % 100000);
    // An "agency.answers" list in one record of four: up to 12 answers,
    // each field present or not.
    const std::size_t answers = random() % 4 == 0 ? random() % 13 : 0;
    for (std::size_t i = 0; i < answers; ++i) {
      audit::AgencyAnswer a;
      for (std::string* answer_field : {&a.source, &a.status, &a.digest, &a.detail}) {
        if (random() % 2 == 0) *answer_field = pool[random() % pool.size()];
      }
      a.latency_ms = random() % 3 == 0 ? -1 : static_cast<std::int64_t>(random() % 100000);
      r.answers.push_back(std::move(a));
    }
    if (!r.answers.empty()) ++with_answers;
    const std::int64_t seq = 1 + static_cast<std::int64_t>(random() % 10000000);
    const std::string salt = crypto::to_hex(crypto::random_bytes(16));
    const auto expected = nlohmann_form(r, seq, "2026-12-05T08:00:00.001Z", salt);
    const auto written = audit::canonical_record(r, seq, "2026-12-05T08:00:00.001Z", salt);
    REQUIRE(written.envelope == expected.envelope);
    REQUIRE(written.personal == expected.personal);
    if (!written.personal.empty()) ++with_personal;
  }
  // Both shapes were covered: with and without a personal part.
  CHECK(with_personal > 100);
  CHECK(with_personal < 4900);
  CHECK(with_answers > 1000);
}

TEST_CASE("audit: An agency.answers record lists each answer as an object after the action",
          "[audit][canonical]") {
  audit::AuditRecord r;
  r.action = "agency.answers";
  r.answers = {{"tax", "ok", 12, "ab", "attempts=1"}, {"bank", "timeout", -1, "", ""}};
  CHECK(audit::sources_of(r.answers) == "tax,bank");
  const std::string expected =
      R"({"action":"agency.answers","answers":[{"detail":"attempts=1","digest":"ab","latency_ms":12,)"
      R"("source":"tax","status":"ok"},{"source":"bank","status":"timeout"}],"seq":9,"source":"tax,bank",)"
      R"("ts":"2026-12-07T19:00:00.000Z"})";
  // The written source comes from the answers: not set by the caller...
  CHECK(audit::canonical_record(r, 9, "2026-12-07T19:00:00.000Z").envelope == expected);
  // ...and not taken from a source that disagrees with them.
  r.source = "vehicle";
  CHECK(audit::written_source(r) == "tax,bank");
  CHECK(audit::canonical_record(r, 9, "2026-12-07T19:00:00.000Z").envelope == expected);
  // A record without answers keeps its own.
  r.answers.clear();
  CHECK(audit::written_source(r) == "vehicle");
}

TEST_CASE("audit: A record without personal fields has no personal part or commitment", "[audit][canonical]") {
  audit::AuditRecord r;
  r.action = "head.published";
  const auto written = audit::canonical_record(r, 7, "2026-12-05T08:00:00.000Z");
  CHECK(written.personal.empty());
  CHECK(written.envelope == R"({"action":"head.published","seq":7,"ts":"2026-12-05T08:00:00.000Z"})");
}

TEST_CASE("audit: Each record's personal part gets a salt of its own across the salts drawn at once",
          "[audit][canonical]") {
  // The salts are drawn 256 at a time (audit_log.cpp): 600 records take
  // three draws, and no two may share a salt or get a wiped (zero) one.
  audit::AuditRecord r;
  r.action = "agency.query";
  r.member = std::string(64, 'a');
  std::set<std::string> salts;
  for (int i = 0; i < 600; ++i) {
    const auto written = audit::canonical_record(r, i + 1, "2026-12-07T13:00:00.000Z");
    const auto salt = json::parse(written.personal).at("salt").get<std::string>();
    REQUIRE(salt.size() == 32);
    REQUIRE(crypto::from_hex(salt).has_value());
    CHECK(salt != std::string(32, '0'));
    salts.insert(salt);
  }
  CHECK(salts.size() == 600);
}
