// Metrics without a daemon: requests counted by endpoint pattern and
// method label, histograms are cumulative, the reader used by
// brokerctl status reads what render() writes.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include "broker/api/readiness.hpp"
#include "broker/ops/metrics.hpp"
#include "common/date.hpp"
#include "policies/policy.hpp"

namespace b = hfv::broker;
using namespace std::chrono_literals;

TEST_CASE("ops: requests are counted by template, method and status", "[ops][metrics]") {
  b::Metrics m;
  m.observe_request("GET", "/v1/verifications/{id}", 200, 5ms);
  m.observe_request("GET", "/v1/verifications/{id}", 200, 7ms);
  m.observe_request("BREW", "/v1/verifications/{id}", 404, 1ms);
  const std::string text = m.render({});
  const auto samples = b::parse_metrics_text(text);
  CHECK(samples.at(R"(hfv_http_requests_total{endpoint="/v1/verifications/{id}",method="GET",status="200"})") == 2);
  CHECK(samples.at(R"(hfv_http_requests_total{endpoint="/v1/verifications/{id}",method="other",status="404"})") == 1);
  CHECK(samples.at(R"(hfv_http_request_duration_seconds_count{endpoint="/v1/verifications/{id}"})") == 3);
}

TEST_CASE("ops: histogram buckets are cumulative and end with +Inf", "[ops][metrics]") {
  b::Metrics m;
  m.observe_audit_append(300us, true);  // <= 0.0005
  m.observe_audit_append(3ms, true);    // <= 0.005
  m.observe_audit_append(2s, false);    // only +Inf
  const auto s = b::parse_metrics_text(m.render({}));
  CHECK(s.at(R"(hfv_audit_append_duration_seconds_bucket{le="0.0005"})") == 1);
  CHECK(s.at(R"(hfv_audit_append_duration_seconds_bucket{le="0.001"})") == 1);
  CHECK(s.at(R"(hfv_audit_append_duration_seconds_bucket{le="0.005"})") == 2);
  CHECK(s.at(R"(hfv_audit_append_duration_seconds_bucket{le="1"})") == 2);
  CHECK(s.at(R"(hfv_audit_append_duration_seconds_bucket{le="+Inf"})") == 3);
  CHECK(s.at("hfv_audit_append_duration_seconds_count") == 3);
  CHECK(s.at("hfv_audit_append_duration_seconds_sum") == Approx(2.0033));
  CHECK(s.at("hfv_audit_append_failures_total") == 1);
}

TEST_CASE("ops: live state and agency figures are rendered", "[ops][metrics]") {
  b::Metrics m;
  m.observe_agency_query("bank", "ok", 120ms);
  m.observe_agency_query("bank", "timeout", 3s);
  m.observe_policy_reload(true);
  b::LiveState live;
  live.requests_in_flight = 4;
  live.audit_last_seq = 77;
  live.policies_loaded = 5;
  hfv::adapters::AgencyStats bank;
  bank.agency = "bank";
  bank.breaker = "open";
  bank.breaker_opens = 1;
  bank.in_flight = 2;
  bank.requests = 11;
  bank.request_errors = 3;
  bank.retries = 1;
  bank.hedges = 4;
  bank.hedges_won = 3;
  live.agencies.push_back(bank);
  const auto s = b::parse_metrics_text(m.render(live));
  CHECK(s.at("hfv_requests_in_flight") == 4);
  CHECK(s.at("hfv_audit_last_sequence") == 77);
  CHECK(s.at("hfv_policies_loaded") == 5);
  CHECK(s.at(R"(hfv_policy_reloads_total{result="ok"})") == 1);
  CHECK(s.at(R"(hfv_policy_reloads_total{result="refused"})") == 0);
  CHECK(s.at(R"(hfv_agency_queries_total{agency="bank",result="timeout"})") == 1);
  CHECK(s.at(R"(hfv_agency_query_duration_seconds_count{agency="bank"})") == 2);
  CHECK(s.at(R"(hfv_agency_breaker_state{agency="bank",state="open"})") == 1);
  CHECK(s.at(R"(hfv_agency_breaker_state{agency="bank",state="closed"})") == 0);
  CHECK(s.at(R"(hfv_agency_requests_in_flight{agency="bank"})") == 2);
  CHECK(s.at(R"(hfv_agency_http_requests_total{agency="bank"})") == 11);
  CHECK(s.at(R"(hfv_agency_http_request_errors_total{agency="bank"})") == 3);
  CHECK(s.at(R"(hfv_agency_http_retries_total{agency="bank"})") == 1);
  CHECK(s.at(R"(hfv_agency_http_hedges_total{agency="bank"})") == 4);
  CHECK(s.at(R"(hfv_agency_http_hedges_won_total{agency="bank"})") == 3);
  CHECK(s.at(R"(hfv_agency_breaker_opens_total{agency="bank"})") == 1);
}

TEST_CASE("ops: the metrics reader skips comments and malformed lines", "[ops][metrics]") {
  const auto s = b::parse_metrics_text("# HELP x y\nx 1\ny{a=\"b c\"} 2.5 1700000000\nbroken\nz notanumber\n");
  CHECK(s.size() == 2);
  CHECK(s.at("x") == 1);
  CHECK(s.at("y{a=\"b c\"}") == 2.5);
}

TEST_CASE("ops: batch progress is rendered only when the service provides it", "[ops][metrics]") {
  b::Metrics m;
  CHECK(b::parse_metrics_text(m.render({})).count("hfv_batches_running") == 0);
  b::LiveState live;
  live.batches = b::BatchProgress{2, 100, 40, 6};
  const auto s = b::parse_metrics_text(m.render(live));
  CHECK(s.at("hfv_batches_running") == 2);
  CHECK(s.at(R"(hfv_batch_households{state="total"})") == 100);
  CHECK(s.at(R"(hfv_batch_households{state="done"})") == 40);
  CHECK(s.at("hfv_batch_members_in_flight") == 6);
}

TEST_CASE("ops: policies stale today or within 60 days are listed and rendered", "[ops][metrics][horizon]") {
  auto set = hfv::policies::PolicySet::load_dir(HFV_SOURCE_DIR "/policies/data");
  REQUIRE(set.ok());
  // 2024-11-02: Harbin's 2024 standards (valid through 2024-12-31) go stale
  // on 2025-01-01, day 60 of the window; Anyang's only standard (the 2022
  // Henan floor) has been stale since 2023-01-01; Hanzhong's is not in
  // force yet, which is not stale; Beijing's and Shanghai's last to 2025-06-30.
  const auto on = *hfv::Date::parse("2024-11-02");
  const auto stale = b::stale_policy_parameters(*set, on);
  REQUIRE(stale.size() == 4);
  CHECK(stale[0].jurisdiction == "230100");
  CHECK(stale[0].parameter == "dibao_standard_monthly.rural");
  CHECK(stale[1].parameter == "dibao_standard_monthly.urban");
  CHECK(stale[1].stale_from.to_string() == "2025-01-01");
  CHECK_FALSE(stale[1].stale_now);
  CHECK(stale[2].jurisdiction == "410500");
  CHECK(stale[3].stale_from.to_string() == "2023-01-01");
  CHECK(stale[3].stale_now);
  // A day earlier Harbin's horizon is 61 days away: not listed.
  const auto day_before = b::stale_policy_parameters(*set, *hfv::Date::parse("2024-11-01"));
  CHECK(day_before.size() == 2);
  for (const auto& p : day_before) CHECK(p.jurisdiction == "410500");

  b::Metrics m;
  b::LiveState live;
  live.stale_parameters = stale;
  const auto s = b::parse_metrics_text(m.render(live));
  CHECK(s.at(R"(hfv_policies_stale{state="stale"})") == 1);
  CHECK(s.at(R"(hfv_policies_stale{state="stale_soon"})") == 1);
  CHECK(s.at(R"(hfv_policy_parameter_stale_from_timestamp_seconds{jurisdiction="230100",)"
             R"(parameter="dibao_standard_monthly.urban",state="stale_soon"})") == 1735689600.0);  // 2025-01-01
  CHECK(s.at(R"(hfv_policy_parameter_stale_from_timestamp_seconds{jurisdiction="410500",)"
             R"(parameter="dibao_standard_monthly.urban",state="stale"})") == 1672531200.0);  // 2023-01-01
  // Nothing stale: both states are 0, no parameter series.
  const auto none = b::parse_metrics_text(m.render({}));
  CHECK(none.at(R"(hfv_policies_stale{state="stale"})") == 0);
  CHECK(none.at(R"(hfv_policies_stale{state="stale_soon"})") == 0);
  for (const auto& [key, value] : none) CHECK_FALSE(key.starts_with("hfv_policy_parameter_stale_from"));
}

TEST_CASE("ops: process metrics come from /proc/self at render time", "[ops][metrics]") {
  const auto before = b::read_process_stats();
  REQUIRE(before);
  CHECK(before->resident_bytes > 0);
  CHECK(before->virtual_bytes >= before->resident_bytes);
  CHECK(before->open_fds >= 3);  // stdin, stdout, stderr at least
  CHECK(before->max_fds >= before->open_fds);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(before->start_time_seconds > now - 24 * 3600.0);  // this test process started recently...
  CHECK(before->start_time_seconds <= now + 1);            // ...and not in the future
  std::array<std::FILE*, 4> opened{};
  for (auto& f : opened) {
    f = std::tmpfile();
    REQUIRE(f != nullptr);
  }
  const auto s = b::parse_metrics_text(b::Metrics().render({}));
  for (std::FILE* f : opened) CHECK(std::fclose(f) == 0);
  CHECK(s.at("process_open_fds") >= static_cast<double>(before->open_fds + 4));
  CHECK(s.at("process_max_fds") == static_cast<double>(before->max_fds));
  CHECK(s.at("process_resident_memory_bytes") > 0);
  CHECK(s.at("process_cpu_seconds_total") >= before->cpu_seconds);
  CHECK(s.at("process_start_time_seconds") == Approx(before->start_time_seconds));
}

TEST_CASE("ops: database sizes count the -wal file, free space comes from statvfs", "[ops][metrics]") {
  const auto dir = std::filesystem::temp_directory_path() / ("hfv-metrics-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "audit.db", std::ios::binary) << std::string(1000, 'a');
  std::ofstream(dir / "audit.db-wal", std::ios::binary) << std::string(234, 'w');
  std::ofstream(dir / "state.db", std::ios::binary) << std::string(10, 's');
  b::LiveState live;
  live.database_files = {{"audit", dir / "audit.db"}, {"state", dir / "state.db"}, {"review", dir / "missing.db"}};
  live.data_folders = {dir, dir / "not-there"};
  const auto s = b::parse_metrics_text(b::Metrics().render(live));
  std::filesystem::remove_all(dir);
  CHECK(s.at(R"(hfv_database_size_bytes{db="audit"})") == 1234);
  CHECK(s.at(R"(hfv_database_size_bytes{db="state"})") == 10);
  CHECK(s.count(R"(hfv_database_size_bytes{db="review"})") == 0);  // no file, no series
  const std::string folder = "{path=\"" + dir.string() + "\"}";
  REQUIRE(s.count("hfv_filesystem_free_bytes" + folder) == 1);
  CHECK(s.at("hfv_filesystem_size_bytes" + folder) > 0);
  CHECK(s.at("hfv_filesystem_free_bytes" + folder) <= s.at("hfv_filesystem_size_bytes" + folder));
  CHECK(s.count("hfv_filesystem_free_bytes{path=\"" + (dir / "not-there").string() + "\"}") == 0);
}

TEST_CASE("ops: TLS expiry, configuration reloads, plaintext agencies, connections and witness exchanges are rendered as set",
          "[ops][metrics]") {
  b::Metrics m;
  m.set_tls_material("server_certificate", 1900000000);
  m.set_tls_material("crl_next_update", 1800000000);
  m.set_tls_material("crl_next_update", 1800086400);  // a reload replaces the value
  m.set_tls_material("ca", 2000000000);
  m.clear_tls_material("ca");
  m.observe_config_reload(true);
  m.observe_config_reload(false);
  m.observe_config_reload(true);
  m.set_agency_plaintext("bank", true);
  m.set_agency_plaintext("tax", false);
  m.set_connections_open(9);
  m.set_connections_open(7);
  m.observe_connection_refused(b::ConnectionRefusal::kPerAddressLimit);
  m.observe_connection_refused(b::ConnectionRefusal::kPerAddressLimit);
  m.observe_connection_refused(b::ConnectionRefusal::kGlobalLimit);
  CHECK(m.render({}).find("hfv_witness_cosign_total") == std::string::npos);  // no witness: no family
  m.observe_witness_cosign("audit-office.example/witness", "cosigned");
  m.observe_witness_cosign("audit-office.example/witness", "cosigned");
  m.observe_witness_cosign("audit-office.example/witness", "refused");
  const auto s = b::parse_metrics_text(m.render({}));
  const std::map<std::string, double> expected = {
      {R"(hfv_tls_not_after_timestamp_seconds{what="server_certificate"})", 1900000000},
      {R"(hfv_tls_not_after_timestamp_seconds{what="crl_next_update"})", 1800086400},
      {R"(hfv_config_reloads_total{result="ok"})", 2},
      {R"(hfv_config_reloads_total{result="refused"})", 1},
      {R"(hfv_agency_plaintext{agency="bank"})", 1},
      {R"(hfv_agency_plaintext{agency="tax"})", 0},
      {"hfv_connections_open", 7},
      {R"(hfv_connections_refused_total{reason="global_limit"})", 1},
      {R"(hfv_connections_refused_total{reason="per_address_limit"})", 2},
      {R"(hfv_witness_cosign_total{witness="audit-office.example/witness",result="cosigned"})", 2},
      {R"(hfv_witness_cosign_total{witness="audit-office.example/witness",result="refused"})", 1},
  };
  for (const auto& [key, value] : expected) {
    INFO(key);
    REQUIRE(s.count(key) == 1);
    CHECK(s.at(key) == value);
  }
  CHECK(s.count(R"(hfv_tls_not_after_timestamp_seconds{what="ca"})") == 0);
}

TEST_CASE("ops: readiness needs the audit writer, the state store, fresh policies and one agency", "[ops][readyz]") {
  b::ReadinessInputs in;
  in.policies_loaded = 5;
  in.agencies.resize(2);
  in.agencies[0].agency = "bank";
  in.agencies[0].breaker = "open";
  in.agencies[1].agency = "tax";
  in.agencies[1].breaker = "half_open";
  auto r = b::assess_readiness(in);
  CHECK(r.ready);
  CHECK(r.body["ready"] == true);
  CHECK(r.body["checks"].size() == 4);
  CHECK_FALSE(r.body["checks"]["audit"].contains("reason"));

  SECTION("the last audit append failed") {
    in.audit_last_append_ok = false;
    r = b::assess_readiness(in);
    CHECK_FALSE(r.ready);
    CHECK(r.body["checks"]["audit"]["reason"] == "the last audit append failed");
  }
  SECTION("the state store did not answer") {
    in.state_error = "state_unavailable";
    r = b::assess_readiness(in);
    CHECK_FALSE(r.ready);
    CHECK(r.body["checks"]["state"]["ok"] == false);
  }
  SECTION("no policy, or one stale today (stale soon is still ready)") {
    in.stale_parameters = {{"230100", "dibao_standard_monthly.urban", hfv::Date::today_utc().add_days(10), false}};
    CHECK(b::assess_readiness(in).ready);
    in.stale_parameters.push_back({"110108", "dibao_standard_monthly.rural", hfv::Date::today_utc(), true});
    r = b::assess_readiness(in);
    CHECK_FALSE(r.ready);
    CHECK(r.body["checks"]["policies"]["reason"] == "stale today: 110108");
    in.stale_parameters.clear();
    in.policies_loaded = 0;
    CHECK_FALSE(b::assess_readiness(in).ready);
  }
  SECTION("every breaker open") {
    in.agencies[1].breaker = "open";
    r = b::assess_readiness(in);
    CHECK_FALSE(r.ready);
    CHECK(r.body["checks"]["agencies"]["ok"] == false);
    CHECK(r.body["checks"]["policies"]["ok"] == true);
  }
}
