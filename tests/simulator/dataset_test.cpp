// Dataset loading: the sample parses; every kind of mistake is rejected with
// a message naming the person index and field, with ID numbers masked.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "sim_fixtures.hpp"
#include "simulator/dataset.hpp"

using namespace hfv::sim;
using namespace hfv::sim::testing;

namespace {

// The message parse_dataset throws for `text` ("" if it does not throw).
std::string error_of(const std::string& text) {
  try {
    parse_dataset(text);
  } catch (const DatasetError& e) {
    return e.what();
  }
  return "";
}

std::string with_person(const std::string& person_json) {
  return R"({"persons": {"110101199003070011": {"bank": []}, "230102197503120016": )" +
         person_json + "}}";
}

}  // namespace

TEST_CASE("sim dataset: the sample parses and answers lookups", "[simulator][dataset]") {
  const Dataset d = parse_dataset(sample_dataset_text());
  CHECK(d.person_count() == 4);
  REQUIRE(d.records(kRich, "bank") != nullptr);
  CHECK(d.records(kRich, "bank")->size() == 3);
  CHECK(d.records(kNoBank, "bank") == nullptr);
  CHECK(d.records(kAbsent, "bank") == nullptr);
  CHECK(d.records(kEmpty, "bank")->empty());
  CHECK(d.name(kRich) == "张三");
  CHECK(d.name(kNoName).empty());
  CHECK(d.name(kAbsent).empty());
  CHECK(d.faults().latency("bank") == std::chrono::milliseconds(25));
}

TEST_CASE("sim dataset: the demo dataset in the repository loads", "[simulator][dataset]") {
  const Dataset d = load_dataset(std::filesystem::path(HFV_SOURCE_DIR) / "demo" / "dataset.json");
  CHECK(d.person_count() > 0);
}

TEST_CASE("sim dataset: ID numbers are masked as first 6 + 8 stars + last 4",
          "[simulator][dataset]") {
  CHECK(mask_id("230102197503120016") == "230102********0016");
  CHECK(mask_id("12345") == "*****");
  CHECK(looks_like_id_number("23010219750312001X"));
  CHECK_FALSE(looks_like_id_number("23010219750312001x"));
  CHECK_FALSE(looks_like_id_number("2301021975031200"));
  CHECK_FALSE(looks_like_id_number("2301021975031200A6"));
}

TEST_CASE("sim dataset: errors name the place and never the full ID number",
          "[simulator][dataset]") {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"persons": {)", "dataset is not valid JSON (line 1, column"},
      {R"([])", "dataset: top level must be an object"},
      {R"({})", "dataset: 'persons' is missing"},
      {R"({"persons": []})", "dataset: 'persons' must be an object"},
      {R"({"persons": {}, "extra": 1})", "dataset: unknown top-level key 'extra'"},
      {R"({"persons": {"12345": {}}})", "persons[0]: key '*****' is not an 18-character ID number"},
      {R"({"persons": {"23010219750312001x": {}}})",
       "persons[0]: key '230102********001x' is not an 18-character ID number"},
      {R"({"persons": {}, "faults": {"230102197503120016": {}}})",
       "faults: unknown source '230102********0016'"},
      {with_person("[]"), "persons[1] (230102********0016): must be an object"},
      {with_person(R"({"banks": []})"), "persons[1] (230102********0016): unknown source 'banks'"},
      {with_person(R"({"hukou": {"name": 7}})"),
       "persons[1] (230102********0016): hukou.name: must be a string"},
      {with_person(R"({"bank": {}})"),
       "persons[1] (230102********0016): bank: must be an array of accounts"},
      {with_person(
           R"({"bank": [{"bank": "x", "account": "1", "balance": 12.5, "as_of": "2026-11-01"}]})"),
       "persons[1] (230102********0016): bank[0].balance: must be a non-empty string"},
      {with_person(R"({"bank": [{"bank": "x", "account": "1", "as_of": "2026-11-01"}]})"),
       "persons[1] (230102********0016): bank[0].balance: is missing"},
      {with_person(
           R"({"bank": [{"bank": "x", "account": "1", "balance": "1.00", "as_of": "2026-11-01"},
                                {"bank": "x", "account": "2", "balance": "1.234", "as_of": "2026-11-01"}]})"),
       "persons[1] (230102********0016): bank[1].balance: must be a decimal-yuan string"},
      {with_person(
           R"({"bank": [{"bank": "x", "account": "1", "balance": "1", "as_of": "2026-02-30"}]})"),
       "persons[1] (230102********0016): bank[0].as_of: must be a YYYY-MM-DD date"},
      {with_person(
           R"({"bank": [{"bank": "x", "account": "1", "balance": "1", "as_of": "2026-11-01", "iban": ""}]})"),
       "persons[1] (230102********0016): bank[0]: unknown field 'iban'"},
      {with_person(
           R"({"bank": [{"bank": "x", "account": "1", "balance": "1", "as_of": "2026-11-01", "currency": "rmb"}]})"),
       "persons[1] (230102********0016): bank[0].currency: must be a three-letter code"},
      {with_person(
           R"({"tax": [{"period": "2026-10", "item": "wages", "amount": "100", "tax_withheld": 5}]})"),
       "persons[1] (230102********0016): tax[0].tax_withheld: must be a non-empty string"},
      {with_person(
           R"({"tax": [{"period": "2026-10", "item": "wages", "amount": "100", "tax_withheld": "100.01"}]})"),
       "persons[1] (230102********0016): tax[0].tax_withheld: must not exceed amount"},
      {with_person(
           R"({"social_insurance": {"contributions": [{"period": "2026-10", "type": "medical", "base": "100", "personal": "-1"}]}})"),
       "persons[1] (230102********0016): social_insurance.contributions[0].personal:"},
      {with_person(
           R"({"social_insurance": {"contributions": [{"period": "2026-10", "type": "medical", "base": "100", "personal": "100.01"}]}})"),
       "persons[1] (230102********0016): social_insurance.contributions[0].personal: must not exceed base"},
      {with_person(
           R"({"social_insurance": {"contributions": [{"period": "2026-10", "type": "medical", "base": "100", "employer": "1"}]}})"),
       "persons[1] (230102********0016): social_insurance.contributions[0]: unknown field 'employer'"},
      {R"({"persons": {}, "faults": []})", "faults: must be an object"},
      {R"({"persons": {}, "faults": {"banks": {}}})", "faults: unknown source 'banks'"},
      {R"({"persons": {}, "faults": {"bank": {"all": "explode"}}})",
       "faults.bank.all: unknown fault kind"},
      {R"({"persons": {}, "faults": {"bank": {"latency_ms": -1}}})",
       "faults.bank.latency_ms: must be an integer"},
      {R"({"persons": {}, "faults": {"bank": {"slow": true}}})", "faults.bank: unknown key 'slow'"},
      {R"({"persons": {}, "faults": {"bank": {"persons": {"230102197503120016": "boom"}}}})",
       "faults.bank.persons[0] (230102********0016): unknown fault kind"},
      {R"({"persons": {}, "faults": {"bank": {"persons": {"abc": "timeout"}}}})",
       "faults.bank.persons[0]: key is not an 18-character ID number"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const std::string message = error_of(c.text);
    CHECK_THAT(message, Catch::Matchers::StartsWith(c.message));
    CHECK(message.find("230102197503120016") == std::string::npos);
  }
}

TEST_CASE("sim dataset: a syntax error inside an ID number does not quote it",
          "[simulator][dataset]") {
  const std::string message = error_of("{\"persons\": {\"230102197503120016\n");
  CHECK_THAT(message, Catch::Matchers::StartsWith("dataset is not valid JSON"));
  CHECK(message.find("2301021975") == std::string::npos);
}

TEST_CASE("sim dataset: a missing file is named", "[simulator][dataset]") {
  const auto missing = std::filesystem::temp_directory_path() / "hfv-sim-no-such-dataset.json";
  try {
    load_dataset(missing);
    FAIL("load_dataset did not throw");
  } catch (const DatasetError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(missing.string()));
  }
}

// Found by tests/fuzz/fuzz_dataset (tests/fuzz/regressions/fuzz_dataset/):
// a number beyond a double made nlohmann throw out_of_range, which escaped
// parse_dataset instead of a DatasetError.
TEST_CASE("sim dataset: a number out of range is invalid JSON, not an escaped exception", "[simulator][dataset]") {
  std::ifstream in(std::string(HFV_SOURCE_DIR) + "/tests/fuzz/regressions/fuzz_dataset/number-out-of-range",
                   std::ios::binary);
  REQUIRE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(error_of(text) == "dataset is not valid JSON (a number is out of range)");
}
