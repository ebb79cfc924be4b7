// Cross-region and three-level verification (issue 21, docs/cross-region.md):
// three real brokers, each with its own agency simulator — Harbin (the
// origin, city 230100), Hanzhong (city 610700) and Heilongjiang (province
// 230000) — over mutual TLS with one test CA. A Harbin household has a
// member registered in Hanzhong: Harbin's registry does not know her, her
// ID number routes her sources to Hanzhong's broker, and the province's
// provident fund answers for the Harbin member.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "crypto/hash.hpp"
#include "crypto/pki.hpp"
#include "stack.hpp"
#include "state_db.hpp"

namespace {

using hfv::testing::ClientTls;
using hfv::testing::https;
using hfv::testing::read_file;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kHarbinMember = "230102197503120016";  // 张伟, registered in Harbin
constexpr const char* kHanzhongMember = "610702198503150029";  // 刘芳, registered in Hanzhong

// One CA for the three centres (in production each centre's CA is pinned
// per peer: ca_file): the brokers' server certificate and the clients'.
struct SharedPki {
  hfv::testing::TempDir dir{"hfv-cross-pki"};
  SharedPki() {
    hfv::crypto::DevPkiOptions options;
    options.dir = dir.path;
    options.client_names = {"demo-case-system", "demo-supervisor", "peer-harbin"};
    REQUIRE(hfv::crypto::create_dev_pki(options).ok());
  }
  std::string file(const std::string& name) const { return (dir.path / name).string(); }
  ClientTls client(const std::string& name) const { return {file("ca.pem"), file(name + ".pem"), file(name + ".key")}; }
};

fs::path write_dataset(const fs::path& dir, const std::string& name, const json& persons) {
  const fs::path file = dir / (name + ".json");
  std::ofstream(file) << json{{"persons", persons}}.dump(2);
  return file;
}

// Each broker serves with the shared CA; its case system and supervisor
// keep their names.
void use_shared_pki(json& config, const SharedPki& pki) {
  config["tls"] = {{"ca_file", pki.file("ca.pem")}, {"cert_file", pki.file("server.pem")},
                   {"key_file", pki.file("server.key")}};
  hfv::testing::relax_rate_limit(config, {});
}

json harbin_peer_principal(const std::vector<std::string>& divisions, const std::vector<std::string>& purposes) {
  return {{"name", "harbin"},          {"certificate_cn", "peer-harbin"}, {"subject", "CN=peer-harbin,O=HFV development"},
          {"role", "peer_broker"},     {"jurisdictions", divisions},      {"purposes", purposes}};
}

// The report-signing key a broker publishes, as a PEM file for a peer entry.
fs::path report_key_file(const Stack& stack, const SharedPki& pki, const fs::path& out) {
  auto r = https("GET", stack.url + "/v1/keys/report-signing", pki.client("demo-case-system"));
  REQUIRE(r.status == 200);
  std::ofstream(out) << json::parse(r.body)["public_key_pem"].get<std::string>();
  return out;
}

struct ThreeCentres {
  SharedPki pki;
  hfv::testing::TempDir data{"hfv-cross-data"};  // datasets and the peers' keys
  std::unique_ptr<Stack> hanzhong, province, harbin;

  explicit ThreeCentres(const std::vector<std::string>& province_purposes = {"dibao"}) {
    const json hanzhong_people = {
        {kHanzhongMember,
         {{"hukou", {{"name", "刘芳"}, {"division", "610702"}, {"status", "normal"}}},
          {"bank", json::array({{{"bank", "汉中农商银行"}, {"account", "6230000011112222333"}, {"balance", "3100.00"},
                                 {"as_of", "2024-11-01"}}})},
          {"real_estate", json::array()},
          {"vehicle", json::array()}}}};
    hanzhong = std::make_unique<Stack>(
        [&](json& config, const fs::path&) {
          use_shared_pki(config, pki);
          config["centre"] = "hanzhong";
          config["principals"].push_back(harbin_peer_principal({"6107"}, {"dibao"}));
        },
        write_dataset(data.path, "hanzhong", hanzhong_people), hfv::testing::StorageOption{});
    const json province_people = {{kHarbinMember, {{"provident_fund", {{"balance", "5000.00"}, {"monthly_deposit", "0.00"}}}}}};
    province = std::make_unique<Stack>(
        [&](json& config, const fs::path&) {
          use_shared_pki(config, pki);
          config["centre"] = "heilongjiang";
          config["principals"].push_back(harbin_peer_principal({"23"}, province_purposes));
          // The province answers for its own registry only.
          const json fund = config["agencies"]["provident_fund"];
          config["agencies"] = {{"provident_fund", fund}};
        },
        write_dataset(data.path, "province", province_people), hfv::testing::StorageOption{});
    const fs::path keys = data.path;
    const fs::path hanzhong_key = report_key_file(*hanzhong, pki, keys / "hanzhong.pub.pem");
    const fs::path province_key = report_key_file(*province, pki, keys / "province.pub.pem");
    json demo = json::parse(read_file(hfv::testing::kSource / "demo" / "dataset.json"));
    const json harbin_people = {{kHarbinMember, demo["persons"][kHarbinMember]}};
    harbin = std::make_unique<Stack>(
        [&](json& config, const fs::path&) {
          use_shared_pki(config, pki);
          config["centre"] = "harbin";
          // Harbin's city registries answer for Harbin; the bank and other
          // national sources for everyone; the provident fund is the province's.
          for (const char* local : {"tax", "social_insurance", "real_estate", "vehicle", "hukou", "business"}) {
            if (config["agencies"].contains(local)) config["agencies"][local]["divisions"] = {"2301"};
          }
          config["agencies"].erase("provident_fund");
          auto peer = [&](const std::string& name, const std::string& url, const fs::path& key, const json& divisions,
                          const json& sources) {
            return json{{"name", name},
                        {"url", url},
                        {"ca_file", pki.file("ca.pem")},
                        {"client_cert_file", pki.file("peer-harbin.pem")},
                        {"client_key_file", pki.file("peer-harbin.key")},
                        {"report_key", key.string()},
                        {"divisions", divisions},
                        {"sources", sources},
                        {"timeout_ms", 4000},
                        {"max_attempts", 1}};
          };
          config["peers"] = json::array(
              {peer("hanzhong", hanzhong->url, hanzhong_key, {"6107"},
                    {"tax", "social_insurance", "real_estate", "vehicle", "hukou", "business", "provident_fund"}),
               peer("heilongjiang", province->url, province_key, {"23"}, {"provident_fund"})});
        },
        write_dataset(data.path, "harbin", harbin_people), hfv::testing::StorageOption{});
    harbin->case_system = pki.client("demo-case-system");
  }

  // `force`: a new verification even if the same household was verified
  // within the repeat window (a second verification in one test).
  std::string authorize(const std::string& case_id) {
    return harbin->register_authorization(case_id, json::array({kHarbinMember, kHanzhongMember}));
  }

  // `auth`: an authorisation registered before (empty: a new one).
  json verify(const std::string& case_id, bool force = false, std::string auth = {}) {
    if (auth.empty()) auth = authorize(case_id);
    json body = {{"case_id", case_id},        {"programme", "dibao"},       {"jurisdiction", "230100"},
                 {"area", "urban"},           {"reference_date", "2024-11-01"}, {"authorization_id", auth},
                 {"obligors", json::array()},    {"force", force},
                 {"members", json::array({hfv::testing::member(kHarbinMember, "张伟", "applicant"),
                                          hfv::testing::member(kHanzhongMember, "刘芳", "spouse")})}};
    auto r = https("POST", harbin->url + "/v1/verifications", harbin->case_system, body.dump(), harbin->operator_header());
    INFO(r.body);
    const std::string log = r.status != 200 ? read_file(harbin->dir.path / "brokerd.log") : std::string();
    INFO("Harbin's log:\n" << log);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
};

const json* source_of(const json& report, std::size_t member, const std::string& source) {
  for (const auto& s : report["sources"]) {
    if (s["member_index"] == member && s["source"] == source) return &s;
  }
  return nullptr;
}

std::vector<json> with_request(const std::vector<json>& records, const std::string& request_id) {
  std::vector<json> out;
  for (const auto& r : records) {
    if (r.value("request_id", "") == request_id) out.push_back(r);
  }
  return out;
}

// How many requests a stack's simulator logged for this agency and person.
long asked(const Stack& stack, const std::string& agency, const std::string& id_number) {
  const std::string person = hfv::crypto::to_hex(hfv::crypto::sha256(id_number));
  std::ifstream in(stack.dir.path / "sim-requests.ndjson");
  long n = 0;
  for (std::string line; std::getline(in, line);) {
    const json r = json::parse(line, nullptr, false);
    if (r.is_object() && r.value("agency", "") == agency && r.value("person_sha256", "") == person) ++n;
  }
  return n;
}

bool has_action(const std::vector<json>& records, const std::string& action) {
  return std::any_of(records.begin(), records.end(), [&](const json& r) { return r.value("action", "") == action; });
}

}  // namespace

TEST_CASE("cross-region: a Harbin household with a member registered in Hanzhong is verified through Hanzhong's and the "
          "province's brokers, and all three logs hold the request",
          "[integration][cross-region]") {
  ThreeCentres centres;
  const json report = centres.verify("CASE-X-001");
  INFO(report.dump(2));
  const std::string id = report["verification_id"].get<std::string>();

  // Member 0 (Harbin): local registries, the province's provident fund.
  const json* tax0 = source_of(report, 0, "tax");
  const json* fund0 = source_of(report, 0, "provident_fund");
  const json* bank0 = source_of(report, 0, "bank");
  REQUIRE((tax0 != nullptr && fund0 != nullptr && bank0 != nullptr));
  CHECK((*tax0)["answered_by"] == "harbin");
  CHECK((*bank0)["answered_by"] == "harbin");
  CHECK((*fund0)["answered_by"] == "heilongjiang");
  CHECK((*fund0)["status"] == "ok");
  // Member 1 (Hanzhong): her city's registries through Hanzhong's broker;
  // the bank, a national source, asked here.
  const json* hukou1 = source_of(report, 1, "hukou");
  const json* estate1 = source_of(report, 1, "real_estate");
  const json* bank1 = source_of(report, 1, "bank");
  REQUIRE((hukou1 != nullptr && estate1 != nullptr && bank1 != nullptr));
  CHECK((*hukou1)["answered_by"] == "hanzhong");
  CHECK((*hukou1)["status"] == "ok");
  CHECK((*estate1)["answered_by"] == "hanzhong");
  CHECK((*estate1)["status"] == "ok");
  CHECK((*bank1)["answered_by"] == "harbin");
  CHECK((*estate1).contains("evidence_sha256"));  // the peer's signed answer, by digest

  // Harbin's real-estate registry was never asked about the Hanzhong
  // member; Hanzhong's was, and the province's provident fund about the
  // Harbin member.
  CHECK(asked(*centres.harbin, "real_estate", kHanzhongMember) == 0);
  CHECK(asked(*centres.hanzhong, "real_estate", kHanzhongMember) == 1);
  CHECK(asked(*centres.province, "provident_fund", kHarbinMember) == 1);

  const auto harbin_log = with_request(centres.harbin->audit_records(), id);
  const auto hanzhong_log = with_request(centres.hanzhong->audit_records(), id);
  const auto province_log = with_request(centres.province->audit_records(), id);
  CHECK(has_action(harbin_log, "peer.query"));
  CHECK(has_action(harbin_log, "peer.answered"));
  CHECK(has_action(hanzhong_log, "peer.request"));
  CHECK(has_action(hanzhong_log, "peer.subject"));
  CHECK(has_action(hanzhong_log, "agency.answers"));
  CHECK(has_action(hanzhong_log, "peer.answered"));
  CHECK(has_action(province_log, "peer.request"));
  CHECK(has_action(province_log, "peer.answered"));
  // The answer's digest is the same in both logs.
  std::set<std::string> sent, received;
  for (const auto& r : hanzhong_log) {
    if (r.value("action", "") == "peer.answered") sent.insert(r.value("digest", ""));
  }
  for (const auto& r : harbin_log) {
    if (r.value("action", "") == "peer.answered") received.insert(r.value("digest", ""));
  }
  CHECK(!sent.empty());
  for (const auto& d : sent) CHECK(received.contains(d));
  // The peer's records concern its own division (its supervisors see them).
  for (const auto& r : hanzhong_log) {
    if (r.value("action", "") == "peer.subject") CHECK(r.value("jurisdiction", "") == "610702");
  }
}

TEST_CASE("cross-region: a peer that is slow or down leaves its member's sources unknown and the outcome indeterminate, "
          "the rest of the household asked as usual",
          "[integration][cross-region]") {
  ThreeCentres centres;
  {  // Slow: Hanzhong's registries hold every request past the deadline.
    json faults;
    for (const char* agency : {"hukou", "tax", "social_insurance", "real_estate", "vehicle", "business", "provident_fund"}) {
      faults[agency] = {{"all", "timeout"}};
    }
    centres.hanzhong->set_faults(faults);
    const json slow = centres.verify("CASE-X-SLOW");
    INFO(slow.dump(2));
    CHECK(slow["outcome"] == "indeterminate");
    const json* estate1 = source_of(slow, 1, "real_estate");
    const json* estate0 = source_of(slow, 0, "real_estate");
    REQUIRE((estate1 != nullptr && estate0 != nullptr));
    CHECK((*estate1)["status"] == "timeout");
    CHECK((*estate1)["answered_by"] == "hanzhong");
    CHECK((*estate0)["status"] == "ok");
  }
  // Down: Hanzhong's broker stopped.
  REQUIRE(centres.hanzhong->broker->stop(SIGTERM) == 0);
  const json report = centres.verify("CASE-X-002", true);
  INFO(report.dump(2));
  CHECK(report["outcome"] == "indeterminate");
  const json* estate1 = source_of(report, 1, "real_estate");
  const json* tax0 = source_of(report, 0, "real_estate");
  const json* fund0 = source_of(report, 0, "provident_fund");
  REQUIRE((estate1 != nullptr && tax0 != nullptr && fund0 != nullptr));
  CHECK(((*estate1)["status"] == "error" || (*estate1)["status"] == "timeout"));
  CHECK((*estate1)["answered_by"] == "hanzhong");
  CHECK((*tax0)["status"] == "ok");
  CHECK((*fund0)["status"] == "ok");
  const auto log = with_request(centres.harbin->audit_records(), report["verification_id"].get<std::string>());
  CHECK(has_action(log, "peer.failed"));
}

TEST_CASE("cross-region: a peer refuses a purpose outside its configuration, an authorisation digest that does not "
          "match (terms altered at the origin, or forged), and a caller that is not a peer, and both sides audit each",
          "[integration][cross-region]") {
  ThreeCentres centres({"tekun"});  // the province answers Harbin for tekun only
  const json report = centres.verify("CASE-X-003");
  INFO(report.dump(2));
  const json* fund0 = source_of(report, 0, "provident_fund");
  REQUIRE(fund0 != nullptr);
  CHECK((*fund0)["status"] == "error");
  CHECK((*fund0)["detail"].get<std::string>().find("403 purpose_not_allowed") != std::string::npos);
  const std::string id = report["verification_id"].get<std::string>();

  // An authorisation whose validity was extended in Harbin's state database
  // after it was registered: its terms no longer match the digest registered
  // (and audited) then, and Hanzhong refuses.
  const std::string extended = centres.authorize("CASE-X-004");
  hfv::testing::StateDb(*centres.harbin).extend_authorization(extended, "2099-12-31");
  const json tampered = centres.verify("CASE-X-004", true, extended);
  INFO(tampered.dump(2));
  const json* hukou1 = source_of(tampered, 1, "hukou");
  REQUIRE(hukou1 != nullptr);
  CHECK((*hukou1)["status"] == "error");
  CHECK((*hukou1)["detail"].get<std::string>().find("403 authorization_digest_mismatch") != std::string::npos);
  const std::string tampered_id = tampered["verification_id"].get<std::string>();

  // A forged query (a digest that is not the terms'), sent with Harbin's
  // peer certificate; then the same from a case system, which is no peer.
  json query = {{"request_id", "ver_forged"},
                {"origin_centre", "harbin"},
                {"operator", "op-1"},
                {"purpose", "dibao"},
                {"case_id", "CASE-X-003"},
                {"jurisdiction", "230100"},
                {"reference_date", "2024-11-01"},
                {"deadline_ms", 3000},
                {"authorization",
                 {{"authorization_id", "auth_x"},
                  {"case_id", "CASE-X-003"},
                  {"jurisdiction", "230100"},
                  {"categories", "all"},
                  {"valid_from", "2026-01-01"},
                  {"valid_until", "2099-12-31"},
                  {"form_sha256", std::string(64, 'c')},
                  {"member_commitments", {std::string(64, 'a')}},
                  {"digest", std::string(64, 'd')}}},
                {"members",
                 {{{"member_index", 1},
                   {"id_number", kHanzhongMember},
                   {"name", "刘芳"},
                   {"salt", std::string(64, 'b')},
                   {"division", "610702"},
                   {"sources", {"real_estate"}}}}}};
  const long before = centres.hanzhong->sim_request_count();
  auto forged = https("POST", centres.hanzhong->url + "/v1/peer/queries", centres.pki.client("peer-harbin"), query.dump(),
                      {"Content-Type: application/json"});
  CHECK(forged.status == 403);
  CHECK(json::parse(forged.body)["error"] == "authorization_digest_mismatch");
  query["request_id"] = "ver_not_a_peer";
  auto stranger = https("POST", centres.hanzhong->url + "/v1/peer/queries", centres.pki.client("demo-case-system"),
                        query.dump(), {"Content-Type: application/json"});
  CHECK(stranger.status == 403);
  CHECK(json::parse(stranger.body)["error"] == "role_not_allowed");
  CHECK(centres.hanzhong->sim_request_count() == before);  // nobody asked

  // The answering side of each refusal.
  const auto province = centres.province->audit_records();
  const auto refused_purpose = with_request(province, id);
  REQUIRE(refused_purpose.size() == 1);
  CHECK(refused_purpose[0]["action"] == "peer.refused");
  CHECK(refused_purpose[0]["status"] == "403 purpose_not_allowed");
  const auto hanzhong = centres.hanzhong->audit_records();
  const auto refused_tampered = with_request(hanzhong, tampered_id);
  REQUIRE(refused_tampered.size() == 1);
  CHECK(refused_tampered[0]["action"] == "peer.refused");
  CHECK(refused_tampered[0]["status"] == "403 authorization_digest_mismatch");
  const auto refused_forged = with_request(hanzhong, "ver_forged");
  REQUIRE(refused_forged.size() == 1);
  CHECK(refused_forged[0]["status"] == "403 authorization_digest_mismatch");
  CHECK(std::any_of(hanzhong.begin(), hanzhong.end(), [](const json& r) {
    return r.value("action", "") == "request.refused" && r.value("principal", "") == "demo-case-system" &&
           r.value("status", "").find("role_not_allowed") != std::string::npos;
  }));
  // The asking side: Harbin audited both refusals it received.
  const auto harbin = centres.harbin->audit_records();
  const auto failed_with = [&](const std::string& request, const std::string& code) {
    const auto records = with_request(harbin, request);
    return std::any_of(records.begin(), records.end(), [&](const json& r) {
      return r.value("action", "") == "peer.failed" && r.value("detail", "").find(code) != std::string::npos;
    });
  };
  CHECK(failed_with(id, "403 purpose_not_allowed"));
  CHECK(failed_with(tampered_id, "403 authorization_digest_mismatch"));
}
