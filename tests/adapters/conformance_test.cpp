// Adapter conformance: every adapter, driven through a real HttpClient
// against the real agency-sim process, must map a multi-page answer exactly,
// report a person the agency does not know as not_found, turn every fault
// kind the simulator has into timeout/error without records, and finish by
// its deadline.
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "adapters/common/answer_fields.hpp"
#include "adapters/common/paged_query.hpp"
#include "adapters/real_estate/real_estate_adapter.hpp"
#include "sim_harness.hpp"
#include "crypto/pki.hpp"
#include "simulator/faults.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace a = hfv::adapters;
using a::testing::agency_settings;
using a::testing::member;
using a::testing::run_query;
using a::testing::Sim;
using hfv::Date;
using hfv::IncomeKind;
using hfv::Money;
using hfv::NormalisedRecords;
using hfv::Source;
using hfv::SourceResult;
using hfv::SourceStatus;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kFull = "110101199003070011";
constexpr const char* kAbsent = "110101199003070099";

// Fault kind -> person with that fault at every agency.
const std::vector<std::pair<std::string, std::string>> kFaultPersons = {
    {"error_500", "110101199003070101"}, {"error_503", "110101199003070102"},
    {"timeout", "110101199003070103"},   {"malformed", "110101199003070104"},
    {"reset", "110101199003070105"},     {"rate_limited", "110101199003070106"},
    {"slow_body", "110101199003070107"}, {"wrong_types", "110101199003070108"},
    {"stuck_once", "110101199003070109"}};

std::string yuan(std::int64_t fen) { return Money::from_fen(fen).to_string(); }

// Records of every source, each list longer than one page of its agency.
json full_records() {
  json p = json::object();
  p["hukou"] = {{"name", "张三"}, {"division", "110101"}, {"status", "moved"}};
  json bank = json::array();
  for (int i = 0; i < 53; ++i) {
    bank.push_back({{"bank", "银行" + std::to_string(i)}, {"account", "62220202001122" + std::to_string(10000 + i)},
                    {"balance", yuan(100 * i + 7)}, {"as_of", "2026-10-" + std::to_string(10 + i % 20)}});
  }
  p["bank"] = bank;
  json securities = json::array();
  for (int i = 0; i < 23; ++i) {
    securities.push_back({{"account", "A00" + std::to_string(1000 + i)}, {"market_value", yuan(12345 + i)},
                          {"as_of", "2026-10-31"}, {"market", i % 2 ? "SZ" : "SH"}});
  }
  p["securities"] = securities;
  json insurance = json::array();
  for (int i = 0; i < 22; ++i) {
    insurance.push_back({{"policy", "P2020" + std::to_string(100 + i)}, {"insurer", "保险" + std::to_string(i)},
                         {"cash_value", yuan(99 * i)}, {"as_of", "2026-09-30"}});
  }
  p["insurance"] = insurance;
  json ifin = json::array();
  for (int i = 0; i < 12; ++i) {
    ifin.push_back({{"platform", "平台" + std::to_string(i)}, {"account", "U" + std::to_string(5000 + i)},
                    {"balance", yuan(3 * i + 1)}, {"as_of", "2026-11-01"}});
  }
  p["internet_finance"] = ifin;
  json tax = json::array();
  const char* items[] = {"wages", "business", "property", "other"};
  for (int i = 0; i < 27; ++i) {
    const int month = 1 + i % 12;
    json record = {{"period", std::to_string(2024 + i / 12) + (month < 10 ? "-0" : "-") + std::to_string(month)},
                   {"item", items[i % 4]},
                   {"amount", yuan(123456789 + 1000 * i)}};
    if (i % 3 != 2) record["tax_withheld"] = yuan(1234567 + 7 * i);  // absent: none withheld
    tax.push_back(record);
  }
  tax.push_back({{"period", "2024-02"}, {"item", "wages"}, {"amount", "0"}});
  p["tax"] = tax;
  json benefits = json::array();
  for (int i = 0; i < 30; ++i) {
    const int month = 1 + i % 12;
    const std::string period = std::to_string(2024 + i / 12) + (month < 10 ? "-0" : "-") + std::to_string(month);
    if (i % 3 == 0) {
      benefits.push_back({{"period", period}, {"type", "residents_pension"}, {"amount", "236.00"}, {"basic_part", "188.5"}});
    } else if (i % 3 == 1) {
      benefits.push_back({{"period", period}, {"type", "employee_pension"}, {"amount", yuan(310000 + i)}});
    } else {
      benefits.push_back({{"period", period}, {"type", "unemployment"}, {"amount", "1500"}, {"basic_part", "0"}});
    }
  }
  // More contributions than benefits, both over one page: one offset pages
  // both lists, and the benefits end first.
  json contributions = json::array();
  const char* kinds[] = {"employee_pension", "medical", "unemployment", "work_injury", "maternity",
                         "residents_pension"};
  for (int i = 0; i < 40; ++i) {
    const int month = 1 + i % 12;
    json c = {{"period", std::to_string(2023 + i / 12) + (month < 10 ? "-0" : "-") + std::to_string(month)},
              {"type", kinds[i % 6]},
              {"base", yuan(400000 + i)}};
    if (i % 4 != 3) c["personal"] = yuan(32000 + i);  // absent: no own share
    contributions.push_back(c);
  }
  p["social_insurance"] = {{"contributions", contributions}, {"benefits", benefits}};
  json estate = json::array();
  const char* uses[] = {"residential", "commercial", "other"};
  for (int i = 0; i < 13; ++i) {
    estate.push_back({{"cert_no", "京(2020)东城区不动产权第00" + std::to_string(12300 + i) + "号"},
                      {"use", uses[i % 3]},
                      {"area_m2", std::to_string(50 + i) + ".2"},
                      {"share", i % 2 ? 100 : 33}});
  }
  p["real_estate"] = estate;
  json vehicles = json::array();
  const char* types[] = {"car", "motorcycle", "truck", "vessel"};
  for (int i = 0; i < 7; ++i) {
    json v = {{"plate", "京A" + std::to_string(12340 + i)},
              {"type", types[i % 4]},
              {"purchase_price", yuan(8600012 + 100000 * i)},
              {"registered", "2019-05-0" + std::to_string(1 + i)}};
    if (i % 2) v["mobility_aid"] = true;
    vehicles.push_back(v);
  }
  p["vehicle"] = vehicles;
  json businesses = json::array();
  const char* roles[] = {"legal_representative", "shareholder", "other"};
  const char* states[] = {"active", "revoked", "cancelled"};
  for (int i = 0; i < 12; ++i) {
    businesses.push_back({{"uscc", "91110101MA0" + std::to_string(1000000 + i)},
                          {"role", roles[i % 3]},
                          {"subscribed_capital", i % 2 ? yuan(50000000 * (i + 1)) : yuan(12345678 + i)},
                          {"status", states[i % 3]}});
  }
  p["business"] = businesses;
  p["provident_fund"] = {{"balance", "23456.78"}, {"monthly_deposit", "860.5"}};
  return p;
}

json dataset() {
  json persons = json::object();
  persons[kFull] = full_records();
  json faults = json::object();
  for (const auto& [kind, id] : kFaultPersons) {
    persons[id] = full_records();
    for (Source s : hfv::kAllSources) faults[std::string(hfv::source_name(s))]["persons"][id] = kind;
  }
  // A slow body outlasts every request timeout these tests set.
  for (Source s : hfv::kAllSources) faults[std::string(hfv::source_name(s))]["slow_body_ms"] = 120000;
  return {{"persons", persons}, {"faults", faults}};
}



const Sim& sim() {
  static const Sim instance(dataset());
  return instance;
}

json config_for(Source s, const json& extra = json::object()) {
  return {{std::string(hfv::source_name(s)), agency_settings(sim().url(), extra)}};
}

// One query of `m` to every source's adapter at once (one HttpClient, one
// io_context, the HttpClient's transfers on `transfer_threads` threads of
// their own, or on the io_context's if 0), each adapter configured with
// `extra`; per source its answer, the time the query itself took and the
// thread the query's coroutine resumed on after its answer.
struct SourceAnswer {
  Source source;
  SourceResult result;
  std::chrono::steady_clock::duration took;
  std::thread::id resumed_on;
};
struct EverySource {
  std::vector<SourceAnswer> answers;
  std::size_t transfers_left = 0;  // the HttpClient's in_flight() once all are answered
};
EverySource run_every_source(const json& extra, const a::MemberQuery& m, milliseconds budget,
                             unsigned transfer_threads = 0) {
  json agencies = json::object();
  for (Source s : hfv::kAllSources) agencies.update(config_for(s, extra));
  boost::asio::io_context io;
  a::HttpClient http(io, transfer_threads);
  auto parsed = a::parse_agencies(agencies, "/");
  REQUIRE(parsed);
  auto set = a::build_adapters(*parsed, http);
  REQUIRE(set);
  EverySource out;
  for (Source s : hfv::kAllSources) out.answers.push_back({s, {}, {}, {}});
  for (auto& answer : out.answers) {
    a::Adapter* adapter = set->at(answer.source).get();
    boost::asio::co_spawn(
        io,
        [&answer, adapter, &m, budget]() -> boost::asio::awaitable<void> {
          const auto started = std::chrono::steady_clock::now();
          answer.result = co_await adapter->query(m, started + budget);
          answer.took = std::chrono::steady_clock::now() - started;
          answer.resumed_on = std::this_thread::get_id();
        },
        boost::asio::detached);
  }
  io.run();
  out.transfers_left = http.in_flight();
  return out;
}

Money money(const json& v) { return *Money::parse(v.get<std::string>()); }

// What each source's records must become.
NormalisedRecords expected(Source s, const json& r) {
  NormalisedRecords out;
  auto holding = [&](const char* inst, const char* acct, const char* amount, std::string prefix = "") {
    for (const json& x : r) {
      out.holdings.push_back({prefix.empty() ? x[inst].get<std::string>() : prefix + x.value("market", "SH") + ")",
                              a::mask_account(x[acct].get<std::string>()), money(x[amount]),
                              Date::parse(x["as_of"].get<std::string>())});
    }
  };
  switch (s) {
    case Source::kBank: holding("bank", "account", "balance"); break;
    case Source::kSecurities: holding("", "account", "market_value", "securities account ("); break;
    case Source::kInsurance: holding("insurer", "policy", "cash_value"); break;
    case Source::kInternetFinance: holding("platform", "account", "balance"); break;
    case Source::kTax:
      for (const json& x : r) {
        const std::string p = x["period"];
        const std::string item = x["item"];
        const IncomeKind kind = item == "wages"      ? IncomeKind::kWages
                                : item == "business" ? IncomeKind::kBusiness
                                : item == "property" ? IncomeKind::kProperty
                                                     : IncomeKind::kOther;
        out.income.push_back({std::stoi(p.substr(0, 4)), static_cast<unsigned>(std::stoi(p.substr(5))), kind,
                              money(x["amount"]), Money{},
                              x.contains("tax_withheld") ? money(x["tax_withheld"]) : Money{}});
      }
      break;
    case Source::kSocialInsurance:
      for (const json& x : r["benefits"]) {
        const std::string p = x["period"];
        const std::string type = x["type"];
        const IncomeKind kind = type == "residents_pension" ? IncomeKind::kResidentsPension
                                : type == "employee_pension" ? IncomeKind::kEmployeePension
                                : type == "unemployment"     ? IncomeKind::kUnemployment
                                                             : IncomeKind::kOther;
        out.income.push_back({std::stoi(p.substr(0, 4)), static_cast<unsigned>(std::stoi(p.substr(5))), kind,
                              money(x["amount"]), x.contains("basic_part") ? money(x["basic_part"]) : Money{}});
      }
      for (const json& x : r["contributions"]) {
        const std::string p = x["period"];
        out.contributions.push_back({std::stoi(p.substr(0, 4)), static_cast<unsigned>(std::stoi(p.substr(5))),
                                     x["type"], money(x["base"]),
                                     x.contains("personal") ? money(x["personal"]) : Money{}});
      }
      break;
    case Source::kRealEstate:
      for (const json& x : r) {
        out.real_estate.push_back({a::real_estate::mask_certificate(x["cert_no"].get<std::string>()), x["use"],
                                   money(x["area_m2"]).fen(), x["share"].get<int>()});
      }
      break;
    case Source::kVehicle:
      for (const json& x : r) {
        out.vehicles.push_back({a::fields::mask_text(x["plate"].get<std::string>(), 2), x["type"],
                                money(x["purchase_price"]), Date::parse(x["registered"].get<std::string>()),
                                x.value("mobility_aid", false)});
      }
      break;
    case Source::kBusiness:
      for (const json& x : r) {
        out.businesses.push_back(
            {a::mask_account(x["uscc"].get<std::string>()), x["role"], money(x["subscribed_capital"]), x["status"]});
      }
      break;
    case Source::kProvidentFund:
      out.provident_fund = hfv::ProvidentFundRecord{money(r["balance"]), money(r["monthly_deposit"])};
      break;
    case Source::kHukou: out.hukou = hfv::HukouRecord{r["division"], r["status"]}; break;
  }
  return out;
}

void check_same(const NormalisedRecords& got, const NormalisedRecords& want) {
  REQUIRE(got.holdings.size() == want.holdings.size());
  for (std::size_t i = 0; i < want.holdings.size(); ++i) {
    INFO("holding " << i);
    CHECK(got.holdings[i].institution == want.holdings[i].institution);
    CHECK(got.holdings[i].account_masked == want.holdings[i].account_masked);
    CHECK(got.holdings[i].amount == want.holdings[i].amount);
    CHECK(got.holdings[i].as_of == want.holdings[i].as_of);
  }
  REQUIRE(got.income.size() == want.income.size());
  for (std::size_t i = 0; i < want.income.size(); ++i) {
    INFO("income " << i);
    CHECK(got.income[i].year == want.income[i].year);
    CHECK(got.income[i].month == want.income[i].month);
    CHECK(got.income[i].kind == want.income[i].kind);
    CHECK(got.income[i].amount == want.income[i].amount);
    CHECK(got.income[i].basic_part == want.income[i].basic_part);
    CHECK(got.income[i].tax_withheld == want.income[i].tax_withheld);
  }
  REQUIRE(got.contributions.size() == want.contributions.size());
  for (std::size_t i = 0; i < want.contributions.size(); ++i) {
    INFO("contribution " << i);
    CHECK(got.contributions[i].year == want.contributions[i].year);
    CHECK(got.contributions[i].month == want.contributions[i].month);
    CHECK(got.contributions[i].type == want.contributions[i].type);
    CHECK(got.contributions[i].base == want.contributions[i].base);
    CHECK(got.contributions[i].personal == want.contributions[i].personal);
  }
  REQUIRE(got.real_estate.size() == want.real_estate.size());
  for (std::size_t i = 0; i < want.real_estate.size(); ++i) {
    INFO("property " << i);
    CHECK(got.real_estate[i].certificate_masked == want.real_estate[i].certificate_masked);
    CHECK(got.real_estate[i].use == want.real_estate[i].use);
    CHECK(got.real_estate[i].area_centi_m2 == want.real_estate[i].area_centi_m2);
    CHECK(got.real_estate[i].share_percent == want.real_estate[i].share_percent);
  }
  REQUIRE(got.vehicles.size() == want.vehicles.size());
  for (std::size_t i = 0; i < want.vehicles.size(); ++i) {
    INFO("vehicle " << i);
    CHECK(got.vehicles[i].plate_masked == want.vehicles[i].plate_masked);
    CHECK(got.vehicles[i].type == want.vehicles[i].type);
    CHECK(got.vehicles[i].purchase_price == want.vehicles[i].purchase_price);
    CHECK(got.vehicles[i].registered == want.vehicles[i].registered);
    CHECK(got.vehicles[i].mobility_aid == want.vehicles[i].mobility_aid);
  }
  REQUIRE(got.businesses.size() == want.businesses.size());
  for (std::size_t i = 0; i < want.businesses.size(); ++i) {
    INFO("business " << i);
    CHECK(got.businesses[i].uscc_masked == want.businesses[i].uscc_masked);
    CHECK(got.businesses[i].role == want.businesses[i].role);
    CHECK(got.businesses[i].subscribed_capital == want.businesses[i].subscribed_capital);
    CHECK(got.businesses[i].status == want.businesses[i].status);
  }
  REQUIRE(got.provident_fund.has_value() == want.provident_fund.has_value());
  if (want.provident_fund) {
    CHECK(got.provident_fund->balance == want.provident_fund->balance);
    CHECK(got.provident_fund->monthly_deposit == want.provident_fund->monthly_deposit);
  }
  REQUIRE(got.hukou.has_value() == want.hukou.has_value());
  if (want.hukou) {
    CHECK(got.hukou->division == want.hukou->division);
    CHECK(got.hukou->status == want.hukou->status);
  }
}

// The bare adapter's behaviour: short per-request timeout.
// 1.5 s: a faulty answer arrives well within it even on a loaded sanitizer
// build, and the hanging faults still end quickly.
const json kNoRetry = {{"timeout_ms", 1500}, {"max_attempts", 1}};

bool single_object(Source s) { return s == Source::kHukou || s == Source::kProvidentFund; }

}  // namespace

TEST_CASE("adapters: conformance - every adapter maps a multi-page answer exactly", "[adapters][conformance]") {
  const json records = full_records();
  for (Source s : hfv::kAllSources) {
    const std::string name(hfv::source_name(s));
    INFO("agency " << name);
    const SourceResult r = run_query(config_for(s), s, member(kFull), milliseconds(10000));
    INFO("detail " << r.detail);
    REQUIRE(r.status == SourceStatus::kOk);
    CHECK(r.source == s);
    CHECK(r.detail.empty());
    CHECK(r.evidence_sha256.size() == 64);
    CHECK_FALSE(r.received_at.empty());
    if (single_object(s)) {
      CHECK(r.attempts == 1);
    } else {
      CHECK(r.attempts >= 2);  // more than one page
    }
    check_same(r.records, expected(s, records[name]));
  }
}

TEST_CASE("adapters: conformance - a person the agency does not know is not_found", "[adapters][conformance]") {
  for (Source s : hfv::kAllSources) {
    INFO("agency " << hfv::source_name(s));
    const SourceResult r = run_query(config_for(s), s, member(kAbsent), milliseconds(5000));
    INFO("detail " << r.detail);
    CHECK(r.status == SourceStatus::kNotFound);
    CHECK(a::item_count(r.records) == 0);
    CHECK_FALSE(r.records.hukou.has_value());
    CHECK_FALSE(r.records.provident_fund.has_value());
    CHECK(r.attempts == 1);
  }
}

TEST_CASE("adapters: conformance - every fault kind is a failure without records", "[adapters][conformance]") {
  for (const auto& [kind, id] : kFaultPersons) {
    // The eleven agencies at once (each waits out its 1.5 s request timeout
    // on the timing faults, so one after the other took about a minute).
    const auto answers = run_every_source(kNoRetry, member(id), milliseconds(30000)).answers;
    for (const auto& [s, r, took, resumed_on] : answers) {
      INFO("agency " << hfv::source_name(s) << ", fault " << kind);
      INFO("detail " << r.detail);
      // A body still dribbling in when the request's time is up is a timeout too.
      // stuck_once holds the first request about the person: this one.
      const bool times_out = kind == "timeout" || kind == "slow_body" || kind == "stuck_once";
      CHECK(r.status == (times_out ? SourceStatus::kTimeout : SourceStatus::kError));
      CHECK_FALSE(r.detail.empty());
      CHECK(a::item_count(r.records) == 0);
      CHECK_FALSE(r.records.hukou.has_value());
      CHECK_FALSE(r.records.provident_fund.has_value());
      CHECK(r.attempts == 1);
      // Ended by the request's own timeout (1.5 s), not the 30 s deadline:
      // the bound leaves room for a loaded sanitizer build.
      CHECK(took < milliseconds(10000));
      CHECK(r.detail.find(id) == std::string::npos);  // no ID number in details
    }
  }
}

TEST_CASE("adapters: conformance - the deadline is respected even when the agency hangs",
          "[adapters][conformance]") {
  const std::string id = kFaultPersons[2].second;  // timeout
  for (Source s : hfv::kAllSources) {
    INFO("agency " << hfv::source_name(s));
    std::chrono::steady_clock::duration took{};
    // The request timeout is a minute: only the 300 ms deadline can end the
    // query early (the upper bound leaves room for a loaded sanitizer build).
    const SourceResult r =
        run_query(config_for(s, {{"timeout_ms", 60000}}), s, member(id), milliseconds(300), &took);
    CHECK(r.status == SourceStatus::kTimeout);
    CHECK(a::item_count(r.records) == 0);
    CHECK(took >= milliseconds(250));
    CHECK(took < milliseconds(10000));
  }
}

TEST_CASE("adapters: conformance - with the transfers on a thread of their own, the answers are the same and "
          "each query resumes on the caller's thread",
          "[adapters][conformance][threads]") {
  const json records = full_records();
  const auto full = run_every_source(json::object(), member(kFull), milliseconds(10000), 1);
  CHECK(full.transfers_left == 0);
  for (const auto& [s, r, took, resumed_on] : full.answers) {
    const std::string name(hfv::source_name(s));
    INFO("agency " << name << ", detail " << r.detail);
    REQUIRE(r.status == SourceStatus::kOk);
    CHECK(resumed_on == std::this_thread::get_id());  // io.run() runs on this thread
    if (!single_object(s)) CHECK(r.attempts >= 2);  // more than one page
    check_same(r.records, expected(s, records[name]));
  }

  // The deadline still cuts a transfer that hangs: the guard's cancellation
  // on the caller's thread reaches the transfer's thread.
  const std::string hangs = kFaultPersons[2].second;  // timeout
  const auto cut = run_every_source({{"timeout_ms", 60000}, {"max_attempts", 1}}, member(hangs),
                                    milliseconds(300), 1);
  CHECK(cut.transfers_left == 0);
  for (const auto& [s, r, took, resumed_on] : cut.answers) {
    INFO("agency " << hfv::source_name(s) << ", detail " << r.detail);
    CHECK(r.status == SourceStatus::kTimeout);
    CHECK(a::item_count(r.records) == 0);
    CHECK(took >= milliseconds(250));
    CHECK(took < milliseconds(10000));  // not the minute of the request timeout (room for a loaded ASan build)
    CHECK(resumed_on == std::this_thread::get_id());
  }
}

TEST_CASE("adapters: conformance - the fault list covers every simulator fault kind", "[adapters][conformance]") {
  std::vector<std::string> covered;
  for (const auto& [kind, id] : kFaultPersons) covered.push_back(kind);
  std::sort(covered.begin(), covered.end());
  // Every fault kind agency-sim knows, so a new kind without a case here fails.
  std::vector<std::string> all;
  for (std::string_view name : hfv::sim::fault_kind_names()) all.emplace_back(name);
  std::sort(all.begin(), all.end());
  CHECK(all.size() >= 8);
  CHECK(covered == all);
  // Each kind is one the simulator accepts: it started with this dataset.
  CHECK(sim().counts()["total"].is_number());
}

TEST_CASE("adapters: conformance - a slow body that arrives in time is read whole", "[adapters][conformance]") {
  json persons = json::object();
  persons[kFull] = full_records();
  json faults = json::object();
  for (Source s : hfv::kAllSources) {
    faults[std::string(hfv::source_name(s))] = {{"all", "slow_body"}, {"slow_body_ms", 100}};
  }
  const Sim slow(json{{"persons", persons}, {"faults", faults}});
  const json records = full_records();
  for (Source s : hfv::kAllSources) {
    const std::string name(hfv::source_name(s));
    INFO("agency " << name);
    const json config = {{name, agency_settings(slow.url(), {{"max_attempts", 1}})}};
    std::chrono::steady_clock::duration took{};
    const SourceResult r = run_query(config, s, member(kFull), milliseconds(10000), &took);
    INFO("detail " << r.detail);
    REQUIRE(r.status == SourceStatus::kOk);
    CHECK(took >= milliseconds(90) * r.attempts);  // every page was slow
    check_same(r.records, expected(s, records[name]));
  }
  // Every request was answered with the slow_body fault.
  const auto log = slow.requests();
  REQUIRE_FALSE(log.empty());
  for (const auto& line : log) CHECK(line["fault"] == "slow_body");
}

TEST_CASE("adapters: conformance - an error rate fails some queries and never yields records",
          "[adapters][conformance]") {
  json persons = json::object();
  persons[kFull] = full_records();
  json faults = json::object();
  for (Source s : hfv::kAllSources) {
    faults[std::string(hfv::source_name(s))] = {{"error_rate", 0.5}, {"error_kind", "error_500"}};
  }
  const Sim flaky(json{{"persons", persons}, {"faults", faults}}, 11);
  const json records = full_records();
  int ok = 0;
  int failed = 0;
  for (int round = 0; round < 3; ++round) {
    for (Source s : hfv::kAllSources) {
      const std::string name(hfv::source_name(s));
      INFO("agency " << name << ", round " << round);
      const json config = {{name, agency_settings(flaky.url(), {{"max_attempts", 1}})}};
      const SourceResult r = run_query(config, s, member(kFull), milliseconds(5000));
      if (r.status == SourceStatus::kOk) {
        ++ok;
        check_same(r.records, expected(s, records[name]));
      } else {
        ++failed;
        CHECK(r.status == SourceStatus::kError);
        CHECK(a::item_count(r.records) == 0);
        CHECK_FALSE(r.records.hukou.has_value());
        CHECK_FALSE(r.records.provident_fund.has_value());
      }
    }
  }
  // With a 50 % error rate per request (multi-page sources fail more often).
  CHECK(ok > 0);
  CHECK(failed > 0);
  std::size_t errors = 0;
  for (const auto& line : flaky.requests()) errors += line["status"] == 500 ? 1 : 0;
  CHECK(errors == static_cast<std::size_t>(failed));  // each failure is exactly one 500
}

namespace {

// A loopback port free a moment ago (nghttpx needs a number, not 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

// An agency that offers HTTP/2 (ALPN "h2") gets it: nghttpx, a real HTTP/2
// server, terminates TLS in front of the simulator and logs each request's
// protocol. Every adapter's multi-page query goes through it and maps the
// same records as over HTTP/1.1.
TEST_CASE("adapters: conformance - every adapter speaks HTTP/2 to an agency that offers it",
          "[adapters][conformance][http2]") {
  INFO("nghttpx comes with Debian's nghttp2-proxy package (scripts/install-deps)");
  REQUIRE(std::string(NGHTTPX_BIN).size() > 0);
  hfv::testing::TempDir dir("hfv-h2");
  hfv::crypto::DevPkiOptions options;
  options.dir = dir.path / "pki";
  REQUIRE(hfv::crypto::create_dev_pki(options).ok());
  const std::string backend = sim().url().substr(std::string("http://").size());
  const int port = free_port();
  hfv::testing::Process front({NGHTTPX_BIN, "--conf=/dev/null", "--workers=1", "--no-ocsp",
                               "--frontend=127.0.0.1," + std::to_string(port),
                               "--backend=" + backend.substr(0, backend.find(':')) + "," +
                                   backend.substr(backend.find(':') + 1),
                               "--accesslog-file=" + (dir.path / "access.log").string(),
                               (options.dir / "server.key").string(), (options.dir / "server.pem").string()},
                              dir.path / "nghttpx.log");
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  const std::string ca = (options.dir / "ca.pem").string();
  // Listening once a request goes through.
  bool up = false;
  for (int i = 0; i < 600 && !up; ++i) {  // up to a minute on a loaded machine
    up = hfv::testing::https("GET", url + "/_sim/requests", {ca, "", ""}).status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(hfv::testing::read_file(dir.path / "nghttpx.log"));
  REQUIRE(up);

  const json records = full_records();
  int attempts = 0;
  for (Source s : hfv::kAllSources) {
    const std::string name(hfv::source_name(s));
    INFO("agency " << name);
    const json config = {{name, agency_settings(url, {{"ca_file", ca}})}};
    const SourceResult r = run_query(config, s, member(kFull), milliseconds(10000));
    INFO("detail " << r.detail);
    REQUIRE(r.status == SourceStatus::kOk);
    check_same(r.records, expected(s, records[name]));
    attempts += r.attempts;
  }
  // nghttpx's access log: one line per request, with its protocol.
  std::istringstream log(hfv::testing::read_file(dir.path / "access.log"));
  int h2 = 0, other = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.find("\"POST ") == std::string::npos) continue;  // the readiness probe was a GET
    ++(line.find(" HTTP/2\"") != std::string::npos ? h2 : other);
  }
  CHECK(attempts > static_cast<int>(hfv::kAllSources.size()));  // multi-page answers
  CHECK(h2 == attempts);
  CHECK(other == 0);
}
