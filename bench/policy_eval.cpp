// hfv-bench-policy: policy evaluation throughput on pre-fetched records (no
// I/O): a 4-member household with answers from all eleven agencies (normal
// registrations, bank accounts, a year of wages and pensions, a vehicle, a
// home), evaluated against every jurisdiction's policy in turn,
// single-threaded. Prints JSON: households evaluated per second per core,
// and the same including the report's decision JSON.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/bench_household.hpp"
#include "policies/engine.hpp"

using namespace hfv;

namespace {

policies::HouseholdInput household() {
  std::vector<policies::MemberFacts> members(4);
  for (std::size_t m = 0; m < members.size(); ++m) {
    members[m].birth_date = *Date::parse(m < 2 ? "1975-03-12" : "2012-06-01");
    members[m].relation = m == 0 ? "applicant" : (m == 1 ? "spouse" : "child");
    members[m].employed = m == 0;
  }
  return bench::household_of(std::move(members), [](std::size_t m, SourceResult& r) {
    if (r.source == Source::kBank) {
      r.status = SourceStatus::kOk;
      for (int a = 0; a < 3; ++a) r.records.holdings.push_back({"bank", "****1234", Money::from_yuan(1500), std::nullopt});
    }
    if (r.source == Source::kTax && m == 0) {
      r.status = SourceStatus::kOk;
      for (unsigned month = 1; month <= 12; ++month) {
        r.records.income.push_back({2026, month <= 10 ? month : month - 10, IncomeKind::kWages, Money::from_yuan(1800), {}});
      }
    }
    if (r.source == Source::kVehicle && m == 0) {
      r.status = SourceStatus::kOk;
      r.records.vehicles.push_back({"黑A****5", "motorcycle", Money::from_yuan(3000), std::nullopt, false});
    }
    if (r.source == Source::kRealEstate && m == 0) {
      r.status = SourceStatus::kOk;
      r.records.real_estate.push_back({"****0001", "residential", 6500, 100});
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : HFV_POLICIES_DIR;
  const double seconds = argc > 2 ? std::stod(argv[2]) : 2.0;
  auto set = policies::PolicySet::load_dir(dir);
  if (!set) {
    std::fprintf(stderr, "%s\n", set.error().message.c_str());
    return 1;
  }
  const char* codes[] = {"230100", "610700", "110108", "410500", "310000"};
  const auto h = household();
  auto measure = [&](bool with_json) {
    long n = 0;
    std::size_t sink = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      for (const char* code : codes) {
        const auto d = policies::evaluate(**set->find(code), h);
        sink += d.rules.size();
        if (with_json) sink += policies::decision_json(d).dump().size();
        ++n;
      }
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::pair{static_cast<double>(n) / elapsed, sink};
  };
  const auto [eval_rate, s1] = measure(false);
  const auto [json_rate, s2] = measure(true);
  std::printf("%s\n", nlohmann::json{{"households_per_s_per_core", eval_rate},
                                     {"households_per_s_per_core_with_trace_json", json_rate},
                                     {"checksum", s1 + s2}}
                          .dump()
                          .c_str());
  return 0;
}
