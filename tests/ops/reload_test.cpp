// Reload without a restart, against the real daemon (one process throughout)
// and `brokerctl reload`: a CRL rolled past its nextUpdate and replaced; the
// server certificate rotated and a principal added; a refused reload that
// changes nothing; serving on the last good CRL during a configured grace.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "../integration/stack.hpp"
#include "broker/ops/metrics.hpp"
#include "crypto/pki.hpp"
#include "crypto/tls.hpp"
#include "run.hpp"

namespace fs = std::filesystem;
using hfv::testing::eventually;
using hfv::testing::https;
using hfv::testing::quote;
using hfv::testing::read_file;
using hfv::testing::Ran;
using hfv::testing::run;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

Ran reload(const Stack& stack) {
  return run(std::string(BROKERCTL_BIN) + " reload --wait 60 --config " + quote(stack.broker_dir / "brokerd.json"));
}

// A call every principal role may make.
long signing_key_status(const Stack& stack, const hfv::testing::ClientTls& who) {
  return https("GET", stack.url + "/v1/keys/report-signing", who).status;
}

bool log_has(const Stack& stack, const std::string& text) {
  return read_file(stack.dir.path / "brokerd.log").find(text) != std::string::npos;
}

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void write_short_crl(const fs::path& pki, std::chrono::seconds validity) {
  REQUIRE(hfv::crypto::write_crl(pki / "ca.pem", pki / "ca.key", {}, pki / "crl.pem", validity).ok());
}

// The public key (PEM) of the certificate the daemon presents to a new
// connection, as OpenSSL's own client sees it.
std::string presented_public_key(const Stack& stack) {
  const std::string host_port = stack.url.substr(std::string("https://").size());
  const Ran r = run("openssl s_client -connect " + host_port + " -CAfile " + quote(stack.case_system.ca_file) +
                    " </dev/null 2>/dev/null | openssl x509 -noout -pubkey");
  return r.exit_code == 0 ? r.output : "";
}

std::vector<json> config_reloads(Stack& stack) {
  std::vector<json> out;
  for (auto& r : stack.audit_records()) {
    if (r.value("action", "") == "config.reload") out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_CASE("reload: a CRL past its next update refuses clients until a new CRL is reloaded, without a restart",
          "[ops][integration][reload]") {
  const auto written_at = now_unix();
  constexpr std::chrono::seconds kValidity{10};
  Stack stack([&](json& config, const fs::path& dir) {
    write_short_crl(dir / "pki", kValidity);
    config["tls"]["crl_file"] = "pki/crl.pem";
  });
  // Served while the CRL is current (checked only if the start-up was quick
  // enough for the answer to come before its next update).
  const long first = signing_key_status(stack, stack.case_system);
  if (now_unix() < written_at + kValidity.count() - 1) CHECK(first == 200);
  // Warned at start: the next update is within tls.crl_warn_hours (72).
  CHECK(eventually([&] { return log_has(stack, "crl_next_update_soon"); }));

  // Past it: every client certificate is refused at the handshake, loudly.
  REQUIRE(eventually([&] { return signing_key_status(stack, stack.case_system) == 0; }));
  CHECK(signing_key_status(stack, stack.supervisor) == 0);
  CHECK(eventually([&] { return log_has(stack, "\"event\":\"crl_expired\""); }));

  // A new CRL and a reload: served again, by the same process.
  write_short_crl(stack.broker_dir / "pki", std::chrono::hours(24 * 7));
  const Ran r = reload(stack);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("OK: configuration reloaded") != std::string::npos);
  CHECK(signing_key_status(stack, stack.case_system) == 200);
  CHECK(signing_key_status(stack, stack.supervisor) == 200);
  CHECK(stack.broker->running());

  const auto reloads = config_reloads(stack);
  REQUIRE(reloads.size() == 1);
  CHECK(reloads[0]["status"] == "ok");
}

TEST_CASE("reload: the server certificate rotated and a principal added apply to new connections",
          "[ops][integration][reload]") {
  Stack stack;
  const fs::path pki = stack.broker_dir / "pki";
  // The new supervisor's certificate, from the centre's CA, before it is a
  // principal: refused as unknown.
  hfv::crypto::DevPkiOptions issue;
  issue.dir = pki;
  issue.client_names = {"new-supervisor"};
  REQUIRE(hfv::crypto::create_dev_pki(issue).ok());
  const hfv::testing::ClientTls newcomer{(pki / "ca.pem").string(), (pki / "new-supervisor.pem").string(),
                                         (pki / "new-supervisor.key").string()};
  REQUIRE_FALSE(presented_public_key(stack).empty());
  CHECK(https("GET", stack.url + "/metrics", newcomer).status == 401);

  // A new server key and certificate (the old pair moved aside), and the
  // principal added to the file.
  fs::rename(pki / "server.pem", pki / "server-old.pem");
  fs::rename(pki / "server.key", pki / "server-old.key");
  issue.client_names = {};
  REQUIRE(hfv::crypto::create_dev_pki(issue).ok());
  const Ran new_key = run("openssl pkey -in " + quote(pki / "server.key") + " -pubout");
  REQUIRE(new_key.exit_code == 0);
  // Until the reload the daemon presents the old certificate.
  CHECK(presented_public_key(stack) != new_key.output);

  json config = json::parse(read_file(stack.broker_dir / "brokerd.json"));
  config["principals"].push_back({{"name", "new-supervisor"},
                                  {"certificate_cn", "new-supervisor"},
                                  {"role", "supervisor"},
                                  {"jurisdictions", {"2301"}}});
  std::ofstream(stack.broker_dir / "brokerd.json", std::ios::trunc) << config.dump(2);

  const Ran r = reload(stack);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("principals=3") != std::string::npos);
  CHECK(presented_public_key(stack) == new_key.output);
  CHECK(https("GET", stack.url + "/metrics", newcomer).status == 200);
  CHECK(signing_key_status(stack, stack.case_system) == 200);
  CHECK(stack.broker->running());
}

TEST_CASE("reload: a refused reload names the problem and changes nothing", "[ops][integration][reload]") {
  Stack stack;
  const fs::path file = stack.broker_dir / "brokerd.json";
  const std::string good = read_file(file);
  json config = json::parse(good);
  // A valid change (a principal removed) beside an invalid one (a key file
  // that does not exist): neither applies.
  config["principals"].erase(1);
  config["tls"]["key_file"] = "pki/missing.key";
  config["listen"] = "127.0.0.1:1";  // only a restart applies it
  std::ofstream(file, std::ios::trunc) << config.dump(2);

  const Ran refused = reload(stack);
  INFO(refused.output);
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("REFUSED") != std::string::npos);
  CHECK(refused.output.find("missing.key") != std::string::npos);
  CHECK(signing_key_status(stack, stack.supervisor) == 200);  // still a principal
  CHECK(log_has(stack, "config_reload_refused"));

  // The file mended except for the listen address: applied, and the listen
  // address named as waiting for a restart.
  config["tls"]["key_file"] = "pki/server.key";
  std::ofstream(file, std::ios::trunc) << config.dump(2);
  const Ran applied = reload(stack);
  INFO(applied.output);
  CHECK(applied.exit_code == 0);
  CHECK(applied.output.find("applied only by a restart: listen") != std::string::npos);
  CHECK(https("GET", stack.url + "/metrics", stack.supervisor).status == 401);  // removed now
  CHECK(signing_key_status(stack, stack.case_system) == 200);

  const auto reloads = config_reloads(stack);
  REQUIRE(reloads.size() == 2);
  CHECK(reloads[0]["status"] == "refused");
  CHECK(reloads[0]["detail"].get<std::string>().find("missing.key") != std::string::npos);
  CHECK(reloads[1]["status"] == "ok");
}

TEST_CASE("reload: with a CRL grace the last good CRL keeps serving past its next update, loudly",
          "[ops][integration][reload]") {
  Stack stack([&](json& config, const fs::path& dir) {
    write_short_crl(dir / "pki", std::chrono::seconds(2));
    config["tls"]["crl_file"] = "pki/crl.pem";
    config["tls"]["crl_grace_hours"] = 24;
  });
  // Warned as expired-but-graced once the next update passed, and served.
  REQUIRE(eventually([&] { return log_has(stack, "\"grace_until\""); }));
  CHECK(signing_key_status(stack, stack.case_system) == 200);
  CHECK(stack.broker->running());
}

TEST_CASE("reload: changed agency settings apply to the next verification", "[ops][integration][reload]") {
  Stack stack;
  // The vehicle registry asked (attempts), or reported as not configured.
  auto asked_vehicle = [](const json& report) {
    return std::any_of(report["sources"].begin(), report["sources"].end(),
                       [](const json& s) { return s["source"] == "vehicle" && s["attempts"].get<int>() > 0; });
  };
  auto vehicle_not_configured = [](const json& report) {
    return std::any_of(report["sources"].begin(), report["sources"].end(), [](const json& s) {
      return s["source"] == "vehicle" && s.value("detail", "").find("no adapter configured") != std::string::npos;
    });
  };
  // HTTP requests each agency's adapter has sent since it was built.
  auto requests_sent = [&](const char* agency) {
    const auto r = https("GET", stack.url + "/metrics", stack.supervisor);
    REQUIRE(r.status == 200);
    const auto m = hfv::broker::parse_metrics_text(r.body);
    const auto it = m.find(std::string(R"(hfv_agency_http_requests_total{agency=")") + agency + R"("})");
    return it == m.end() ? -1.0 : it->second;
  };
  const json before = stack.verify("HRB-RA-1", json::array({hfv::testing::member("230102197503120016", "张伟", "applicant")}));
  CHECK(asked_vehicle(before));
  const double tax_sent = requests_sent("tax");
  CHECK(tax_sent > 0);
  CHECK(requests_sent("bank") > 0);

  // The vehicle registry removed, the bank's timeout changed, the rest as
  // they were.
  json config = json::parse(read_file(stack.broker_dir / "brokerd.json"));
  config["agencies"].erase("vehicle");
  config["agencies"]["bank"]["timeout_ms"] = config["agencies"]["bank"].value("timeout_ms", 5000) + 1;
  std::ofstream(stack.broker_dir / "brokerd.json", std::ios::trunc) << config.dump(2);
  const Ran r = reload(stack);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("agencies=10") != std::string::npos);
  // Only the changed agency starts afresh (its breaker, limits, counters):
  // the tax bureau's adapter was handed on.
  CHECK(requests_sent("tax") == tax_sent);
  CHECK(requests_sent("bank") == 0);

  const json after = stack.verify("HRB-RA-2", json::array({hfv::testing::member("230102197808050020", "李娜", "applicant")}));
  CHECK_FALSE(asked_vehicle(after));
  CHECK(vehicle_not_configured(after));
  CHECK(after["outcome"] != "eligible");  // a source not asked is unknown, never "no assets"
  CHECK(stack.broker->running());
}
