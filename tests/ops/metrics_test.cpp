// Metrics without a daemon: requests counted by endpoint pattern and
// method label, histograms are cumulative, the reader used by
// brokerctl status reads what render() writes.
#include <catch2/catch.hpp>

#include <chrono>

#include "broker/ops/metrics.hpp"

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
