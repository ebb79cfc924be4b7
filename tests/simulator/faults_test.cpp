// Fault plan lookups and what each fault kind does to an answer.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "sim_fixtures.hpp"
#include "simulator/faults.hpp"

using namespace hfv::sim;
using namespace hfv::sim::testing;
using std::chrono::milliseconds;

TEST_CASE("sim faults: kind names round-trip", "[simulator][faults]") {
  for (const char* name :
       {"error_500", "error_503", "timeout", "malformed", "reset", "rate_limited"}) {
    const auto kind = parse_fault_kind(name);
    REQUIRE(kind.has_value());
    CHECK(fault_name(*kind) == name);
  }
  CHECK(parse_fault_kind("none") == FaultKind::kNone);
  CHECK(fault_name(FaultKind::kNone).empty());
  CHECK_FALSE(parse_fault_kind("Error_500").has_value());
  CHECK_FALSE(parse_fault_kind("").has_value());
}

TEST_CASE("sim faults: a person's own fault beats the source's 'all'", "[simulator][faults]") {
  FaultPlan plan;
  SourceFaults bank;
  bank.all = FaultKind::kError503;
  bank.persons = {{"110101199003070011", FaultKind::kTimeout},
                  {"110101199003070027", FaultKind::kNone}};
  bank.latency = milliseconds(40);
  plan.set("bank", bank);
  SourceFaults tax;
  tax.persons = {{"110101199003070011", FaultKind::kReset}};
  plan.set("tax", tax);

  CHECK(plan.lookup("bank", "110101199003070011") == FaultKind::kTimeout);
  CHECK(plan.lookup("bank", "110101199003070027") == FaultKind::kNone);  // exempt from "all"
  CHECK(plan.lookup("bank", "110101199003070099") == FaultKind::kError503);
  CHECK(plan.lookup("bank", "") == FaultKind::kError503);
  CHECK(plan.lookup("tax", "110101199003070011") == FaultKind::kReset);
  CHECK(plan.lookup("tax", "110101199003070027") == FaultKind::kNone);
  CHECK(plan.lookup("vehicle", "110101199003070011") == FaultKind::kNone);

  CHECK(plan.latency("bank") == milliseconds(40));
  CHECK(plan.latency("tax") == milliseconds(0));
  CHECK(plan.latency("vehicle") == milliseconds(0));
  plan.override_latency(milliseconds(7));
  CHECK(plan.latency("bank") == milliseconds(7));
  CHECK(plan.latency("vehicle") == milliseconds(7));
}

TEST_CASE("sim faults: the plan is read from the dataset", "[simulator][faults]") {
  const Dataset d = parse_dataset(sample_dataset_text());
  CHECK(d.faults().lookup("bank", kRich) == FaultKind::kNone);
  CHECK(d.faults().lookup("bank", kAbsent) == FaultKind::kError503);
  CHECK(d.faults().lookup("bank", "110101199003070051") == FaultKind::kTimeout);
  CHECK(d.faults().lookup("tax", kRich) == FaultKind::kReset);
  CHECK(d.faults().latency("bank") == milliseconds(25));
}

TEST_CASE("sim faults: each kind's effect on the answer", "[simulator][faults]") {
  Reply normal;
  normal.body = R"({"retCode":"0000","retMsg":"SUCCESS","queryId":"q","body":{"accounts":[]}})";

  const FaultOutcome none = apply_fault(FaultKind::kNone, normal);
  CHECK(none.action == Action::kAnswer);
  CHECK(none.reply.status == 200);
  CHECK(none.reply.body == normal.body);

  const FaultOutcome e500 = apply_fault(FaultKind::kError500, normal);
  CHECK(e500.action == Action::kAnswer);
  CHECK(e500.reply.status == 500);
  CHECK(e500.reply.body.find("0000") == std::string::npos);

  const FaultOutcome e503 = apply_fault(FaultKind::kError503, normal);
  CHECK(e503.reply.status == 503);
  CHECK_THAT(e503.reply.content_type, Catch::Matchers::StartsWith("text/html"));

  const FaultOutcome limited = apply_fault(FaultKind::kRateLimited, normal);
  CHECK(limited.reply.status == 429);
  REQUIRE(limited.reply.headers.size() == 1);
  CHECK(limited.reply.headers[0] == std::pair<std::string, std::string>{"Retry-After", "1"});
  const FaultOutcome patient = apply_fault(FaultKind::kRateLimited, normal, std::chrono::seconds(120));
  CHECK(patient.reply.headers.at(0) == std::pair<std::string, std::string>{"Retry-After", "120"});

  const FaultOutcome malformed = apply_fault(FaultKind::kMalformed, normal);
  CHECK(malformed.action == Action::kAnswer);
  CHECK(malformed.reply.status == 200);
  CHECK_FALSE(malformed.reply.body.empty());
  CHECK(normal.body.starts_with(malformed.reply.body));
  CHECK(nlohmann::json::parse(malformed.reply.body, nullptr, false).is_discarded());
  Reply tiny;
  tiny.body = "{}";
  CHECK(nlohmann::json::parse(apply_fault(FaultKind::kMalformed, tiny).reply.body, nullptr, false)
            .is_discarded());

  CHECK(apply_fault(FaultKind::kTimeout, normal).action == Action::kHang);
  CHECK(apply_fault(FaultKind::kReset, normal).action == Action::kReset);
}

TEST_CASE("sim faults: slow_body and wrong_types", "[simulator][faults]") {
  CHECK(fault_name(*parse_fault_kind("slow_body")) == "slow_body");
  CHECK(fault_name(*parse_fault_kind("wrong_types")) == "wrong_types");
  Reply normal;
  normal.body =
      R"({"retCode":"0000","body":{"totalCount":2,"more":false,"accounts":[{"balance":"8,200.50",)"
      R"("acctNo":"6222020200112233445","bankName":"工行","balanceDate":"20261101","id":"0101"}]}})";

  const FaultOutcome slow = apply_fault(FaultKind::kSlowBody, normal);
  CHECK(slow.action == Action::kSlowBody);
  CHECK(slow.reply.status == 200);
  CHECK(slow.reply.body == normal.body);

  const FaultOutcome wrong = apply_fault(FaultKind::kWrongTypes, normal);
  CHECK(wrong.action == Action::kAnswer);
  CHECK(wrong.reply.status == 200);
  const auto j = nlohmann::json::parse(wrong.reply.body);
  CHECK(j["retCode"] == "0000");  // the top level is left alone
  CHECK(j["body"]["totalCount"] == "2");
  CHECK(j["body"]["more"] == "false");
  const auto& account = j["body"]["accounts"][0];
  CHECK(account["balance"].is_number_float());
  CHECK(account["balance"].get<double>() == Approx(8200.5));
  CHECK(account["acctNo"].is_number());
  CHECK(account["bankName"] == "工行");
  CHECK(account["balanceDate"] == 20261101);
  CHECK(account["id"] == 101);
  CHECK(wrong_types("not json") == "not json");
  CHECK(wrong_types("[1]") == "[1]");
}

TEST_CASE("sim faults: error rate and latency tail are seeded draws", "[simulator][faults]") {
  FaultPlan plan;
  SourceFaults bank;
  bank.latency = milliseconds(10);
  bank.latency_tail = milliseconds(20);
  bank.error_rate = 0.3;
  bank.error_kind = FaultKind::kError500;
  bank.persons = {{"110101199003070027", FaultKind::kNone}};
  plan.set("bank", bank);
  CHECK(plan.random());

  int errors = 0;
  std::vector<std::int64_t> latencies;
  for (std::uint64_t n = 0; n < 2000; ++n) {
    const std::uint64_t nonce = mix64(n);
    const FaultDecision d = plan.decide("bank", "110101199003070011", nonce);
    // The same nonce gives the same decision.
    const FaultDecision again = plan.decide("bank", "110101199003070011", nonce);
    CHECK(d.kind == again.kind);
    CHECK(d.latency == again.latency);
    CHECK((d.kind == FaultKind::kNone || d.kind == FaultKind::kError500));
    if (d.kind == FaultKind::kError500) ++errors;
    CHECK(d.latency >= milliseconds(10));
    CHECK(d.latency <= milliseconds(10) + kMaxTail);
    latencies.push_back(d.latency.count());
    // A person's own entry beats the rate.
    CHECK(plan.decide("bank", "110101199003070027", nonce).kind == FaultKind::kNone);
  }
  CHECK(errors > 500);  // 30 % of 2000 = 600
  CHECK(errors < 700);
  std::sort(latencies.begin(), latencies.end());
  const auto median = latencies[latencies.size() / 2];
  const auto p99 = latencies[latencies.size() * 99 / 100];
  CHECK(median >= 18);  // 10 + ~0.59 * 20
  CHECK(median <= 26);
  CHECK(p99 >= 200);  // a long tail: 10 + ~20.5 * 20
  CHECK(p99 >= 8 * median);

  // --latency-ms makes latency exact and draws nothing.
  plan.override_latency(milliseconds(7));
  CHECK(plan.decide("bank", "110101199003070011", 12345).latency == milliseconds(7));
  FaultPlan plain;
  CHECK_FALSE(plain.random());
  CHECK(plain.decide("tax", "110101199003070011", 1).kind == FaultKind::kNone);
}

TEST_CASE("sim faults: new fault keys are read and checked", "[simulator][faults]") {
  const Json spec = Json::parse(
      R"({"latency_ms": 5, "latency_tail_ms": 30, "error_rate": 0.25, "error_kind": "error_500",
          "slow_body_ms": 400, "retry_after_s": 60})");
  const SourceFaults f = parse_source_faults(spec, "faults.bank");
  CHECK(f.latency == milliseconds(5));
  CHECK(f.latency_tail == milliseconds(30));
  CHECK(f.error_rate == Approx(0.25));
  CHECK(f.error_kind == FaultKind::kError500);
  CHECK(f.slow_body == milliseconds(400));
  CHECK(f.retry_after == std::chrono::seconds(60));
  CHECK(SourceFaults{}.retry_after == std::chrono::seconds(1));
  CHECK_THROWS_WITH(parse_source_faults(Json::parse(R"({"error_rate": 1.5})"), "faults.bank"),
                    Catch::Matchers::Contains("faults.bank.error_rate"));
  CHECK_THROWS_WITH(parse_source_faults(Json::parse(R"({"error_kind": "none"})"), "faults.bank"),
                    Catch::Matchers::Contains("error_kind"));
  CHECK_THROWS_WITH(parse_source_faults(Json::parse(R"({"slow_body_ms": -1})"), "faults.bank"),
                    Catch::Matchers::Contains("slow_body_ms"));
  CHECK_THROWS_WITH(parse_source_faults(Json::parse(R"({"retry_after_s": 86401})"), "faults.bank"),
                    Catch::Matchers::Contains("faults.bank.retry_after_s"));
  CHECK_THROWS_WITH(parse_source_faults(Json::parse(R"({"retry_after_s": "1"})"), "faults.bank"),
                    Catch::Matchers::Contains("retry_after_s"));
}
