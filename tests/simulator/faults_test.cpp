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
