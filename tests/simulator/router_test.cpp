// Routing without sockets: control endpoints, counting, faults and latency
// around agency answers, request-log lines; and the command line.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <vector>

#include "sim_fixtures.hpp"
#include "common/time.hpp"
#include "simulator/options.hpp"
#include "simulator/request_log.hpp"
#include "simulator/router.hpp"

using namespace hfv::sim;
using namespace hfv::sim::testing;
using std::chrono::milliseconds;

namespace {

const std::string kInquiry = "/bank/v2/deposit-inquiry";

Decision ask(Router& router, const std::string& id) {
  const std::string body = Json{{"certType", "01"}, {"certNo", id}, {"queryId", "q"}}.dump();
  return router.route(HttpRequestView{"POST", kInquiry, "application/json", body});
}

Json json_of(const Reply& r) { return Json::parse(r.body); }

}  // namespace

TEST_CASE("sim router: control endpoints", "[simulator][router]") {
  Router router(parse_dataset(sample_dataset_text()), 42);
  CHECK(router.seed() == 42);
  const Decision health = router.route({"GET", "/_sim/health", "", ""});
  CHECK(health.reply.status == 200);
  CHECK(json_of(health.reply) == Json{{"status", "ok"}});
  CHECK_FALSE(health.record.has_value());
  CHECK(router.route({"POST", "/_sim/health", "", ""}).reply.status == 405);
  CHECK(router.route({"GET", "/_sim/reset-requests", "", ""}).reply.status == 405);
  CHECK(router.route({"GET", "/_sim/nothing", "", ""}).reply.status == 404);

  const Json counts = json_of(router.route({"GET", "/_sim/requests", "", ""}).reply);
  CHECK(counts["total"] == 0);
  CHECK(counts["by_agency"] == Json{{"bank", 0},
                                    {"business", 0},
                                    {"hukou", 0},
                                    {"insurance", 0},
                                    {"internet_finance", 0},
                                    {"provident_fund", 0},
                                    {"real_estate", 0},
                                    {"securities", 0},
                                    {"social_insurance", 0},
                                    {"tax", 0},
                                    {"vehicle", 0}});
}

TEST_CASE("sim router: faults, latency and counts around the bank", "[simulator][router]") {
  Router router(parse_dataset(sample_dataset_text()));

  const Decision ok = ask(router, kRich);  // exempt from "all": error_503
  CHECK(ok.action == Action::kAnswer);
  CHECK(ok.reply.status == 200);
  CHECK(json_of(ok.reply)["retCode"] == "0000");
  CHECK(ok.delay == milliseconds(25));
  REQUIRE(ok.record.has_value());
  CHECK(ok.record->agency == "bank");
  CHECK(ok.record->path == kInquiry);
  CHECK(ok.record->person == kRich);
  CHECK(ok.record->status == 200);
  CHECK(ok.record->fault.empty());

  const Decision down = ask(router, kAbsent);
  CHECK(down.reply.status == 503);
  CHECK(down.record->fault == "error_503");
  CHECK(down.record->status == 503);

  const Decision hang = ask(router, "110101199003070051");
  CHECK(hang.action == Action::kHang);
  CHECK(hang.record->status == 0);
  CHECK(hang.record->fault == "timeout");

  // A request naming nobody still gets the agency-wide fault.
  const Decision no_person = router.route({"POST", kInquiry, "application/json", "{}"});
  CHECK(no_person.reply.status == 503);
  CHECK(no_person.record->person.empty());

  // The query string is not part of the path.
  const Decision with_query = router.route(
      {"POST", kInquiry + "?x=1", "application/json", R"({"certNo":"110101199003070011"})"});
  CHECK(with_query.reply.status == 200);
  CHECK(with_query.record->path == kInquiry);

  const Decision unknown = router.route({"GET", "/customs/v1/x", "", ""});
  CHECK(unknown.reply.status == 404);
  CHECK(json_of(unknown.reply)["retCode"] == "9004");
  CHECK_FALSE(unknown.record.has_value());

  const Json counts = json_of(router.route({"GET", "/_sim/requests", "", ""}).reply);
  CHECK(counts["total"] == 5);
  CHECK(counts["by_agency"]["bank"] == 5);
  CHECK(counts["by_path"][kInquiry] == 5);
  CHECK(counts["unrouted"] == 1);

  CHECK(router.route({"POST", "/_sim/reset-requests", "", ""}).reply.status == 200);
  const Json cleared = json_of(router.route({"GET", "/_sim/requests", "", ""}).reply);
  CHECK(cleared["total"] == 0);
  CHECK(cleared["by_agency"]["bank"] == 0);
  CHECK(cleared["by_path"].empty());
  CHECK(cleared["unrouted"] == 0);
}

TEST_CASE("sim router: --latency-ms overrides the dataset's latency", "[simulator][router]") {
  Dataset d = parse_dataset(sample_dataset_text());
  d.faults().override_latency(milliseconds(3));
  Router router(std::move(d));
  CHECK(ask(router, kRich).delay == milliseconds(3));
}

TEST_CASE("sim router: POST /_sim/faults changes the plan at run time", "[simulator][router]") {
  Router router(parse_dataset(plain_dataset_text()));
  CHECK(ask(router, kRich).reply.status == 200);
  const Decision set = router.route(
      {"POST", "/_sim/faults", "application/json", R"({"bank": {"all": "error_500", "latency_ms": 9}})"});
  CHECK(set.reply.status == 200);
  CHECK_FALSE(set.record.has_value());
  const Decision failing = ask(router, kRich);
  CHECK(failing.reply.status == 500);
  CHECK(failing.delay == milliseconds(9));
  CHECK(failing.record->fault == "error_500");
  // null clears a source's faults; bad specs change nothing.
  CHECK(router.route({"POST", "/_sim/faults", "", R"({"bank": {"all": "bogus"}})"}).reply.status == 400);
  CHECK(ask(router, kRich).reply.status == 500);
  CHECK(router.route({"POST", "/_sim/faults", "", R"({"customs": null})"}).reply.status == 400);
  CHECK(router.route({"POST", "/_sim/faults", "", "[]"}).reply.status == 400);
  CHECK(router.route({"GET", "/_sim/faults", "", ""}).reply.status == 405);
  CHECK(router.route({"POST", "/_sim/faults", "", R"({"bank": null})"}).reply.status == 200);
  const Decision healthy = ask(router, kRich);
  CHECK(healthy.reply.status == 200);
  CHECK(healthy.delay == milliseconds(0));
}

TEST_CASE("sim router: requests in flight and their peak per agency", "[simulator][router]") {
  Router router(parse_dataset(plain_dataset_text()));
  for (int i = 0; i < 3; ++i) (void)ask(router, kRich);
  Json counts = json_of(router.route({"GET", "/_sim/requests", "", ""}).reply);
  CHECK(counts["in_flight"]["bank"] == 3);
  CHECK(counts["max_in_flight"]["bank"] == 3);
  CHECK(counts["max_in_flight"]["tax"] == 0);
  router.finished("bank");
  router.finished("bank");
  counts = json_of(router.route({"GET", "/_sim/requests", "", ""}).reply);
  CHECK(counts["in_flight"]["bank"] == 1);
  CHECK(counts["max_in_flight"]["bank"] == 3);
  router.reset_counts();  // the peak restarts from what is still in flight
  counts = json_of(router.route({"GET", "/_sim/requests", "", ""}).reply);
  CHECK(counts["max_in_flight"]["bank"] == 1);
  router.finished("bank");
  router.finished("bank");  // never below zero
  counts = json_of(router.route({"GET", "/_sim/requests", "", ""}).reply);
  CHECK(counts["in_flight"]["bank"] == 0);
}

TEST_CASE("sim router: the same seed gives the same faults, another seed others",
          "[simulator][router]") {
  const std::string faults = R"({"bank": {"error_rate": 0.5, "latency_tail_ms": 5}})";
  auto run = [&](std::uint64_t seed) {
    Router router(parse_dataset(plain_dataset_text()), seed);
    REQUIRE(router.route({"POST", "/_sim/faults", "", faults}).reply.status == 200);
    std::vector<std::pair<int, long>> seen;
    for (int i = 0; i < 40; ++i) {
      const Decision d = ask(router, i % 2 ? kRich : kNoName);
      seen.emplace_back(d.reply.status, static_cast<long>(d.delay.count()));
    }
    return seen;
  };
  const auto a = run(7);
  CHECK(a == run(7));
  CHECK(a != run(8));
  const auto failed = std::count_if(a.begin(), a.end(), [](const auto& p) { return p.first == 503; });
  CHECK(failed > 5);
  CHECK(failed < 35);
}

TEST_CASE("sim request log: lines hash the ID number", "[simulator][log]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto t = std::chrono::system_clock::time_point(milliseconds(1793522096789));  // 2026-11-01
  CHECK(hfv::utc_timestamp(t) == "2026-11-01T08:34:56.789Z");  // the log's "ts"
  const std::string line = request_log_line(RequestRecord{"bank", kInquiry, kRich, 200, ""}, t);
  CHECK(line.find(kRich) == std::string::npos);
  const Json j = Json::parse(line);
  CHECK(j["ts"] == "2026-11-01T08:34:56.789Z");
  CHECK(j["agency"] == "bank");
  CHECK(j["path"] == kInquiry);
  CHECK(j["person_sha256"] == sha256_hex(kRich));
  CHECK(j["status"] == 200);
  CHECK(j["fault"] == "");
  CHECK(Json::parse(request_log_line(RequestRecord{"bank", kInquiry, "", 0, "reset"},
                                     t))["person_sha256"] == "");
}

TEST_CASE("sim options: the command line", "[simulator][options]") {
  auto parse = [](std::initializer_list<std::string_view> args) {
    return parse_options(std::span<const std::string_view>(args.begin(), args.size()));
  };
  const Options o = parse({"--dataset", "d.json", "--listen", "127.0.0.1:0", "--port-file", "p",
                           "--latency-ms", "150", "--request-log", "r.ndjson", "--seed", "7"});
  CHECK(o.dataset == "d.json");
  CHECK(o.listen_host == "127.0.0.1");
  CHECK(o.listen_port == 0);
  CHECK(o.port_file == "p");
  CHECK(o.latency == milliseconds(150));
  CHECK(o.request_log == "r.ndjson");
  CHECK(o.seed == 7);
  CHECK_FALSE(o.tls());

  const Options v6 = parse({"--dataset", "d", "--listen", "[::1]:8443", "--tls-cert", "c",
                            "--tls-key", "k", "--tls-client-ca", "ca"});
  CHECK(v6.listen_host == "::1");
  CHECK(v6.listen_port == 8443);
  CHECK(v6.tls());
  CHECK(v6.tls_client_ca == "ca");

  CHECK(parse({"--help"}).help);
  CHECK_THROWS_AS(parse({"--listen", "127.0.0.1:0"}), UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d"}), UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d", "--listen", "127.0.0.1"}), UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d", "--listen", "127.0.0.1:65536"}), UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d", "--listen", "127.0.0.1:x"}), UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d", "--listen", "127.0.0.1:0", "--latency-ms", "-5"}),
                  UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d", "--listen", "127.0.0.1:0", "--tls-cert", "c"}),
                  UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d", "--listen", "127.0.0.1:0", "--tls-client-ca", "ca"}),
                  UsageError);
  CHECK_THROWS_AS(parse({"--dataset", "d", "--listen", "127.0.0.1:0", "--bogus", "1"}), UsageError);
  CHECK_THROWS_AS(parse({"--dataset"}), UsageError);
}
