// Agency answers the fuzz targets found (tests/fuzz/fuzz_answer_<agency>,
// inputs checked in under tests/fuzz/regressions/fuzz_answer_<agency>/ as
// "<status> <page>\n<body>"): each used to throw out of parse_page, and is
// now an error value that names no submitted value.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "adapters/internet_finance/internet_finance_adapter.hpp"
#include "adapters/securities/securities_adapter.hpp"

namespace a = hfv::adapters;

namespace {

struct Answer {
  long status = 0;
  std::string body;
};

// A regression input: the first line "<status> <page>", then the body.
Answer regression(const std::string& target, const std::string& name) {
  std::ifstream in(std::string(HFV_SOURCE_DIR) + "/tests/fuzz/regressions/" + target + "/" + name, std::ios::binary);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  const auto nl = text.find('\n');
  REQUIRE(nl != std::string::npos);
  return {std::stol(text.substr(0, text.find(' '))), text.substr(nl + 1)};
}

}  // namespace

TEST_CASE("adapters: an internet-finance failure whose error_code is not a string is an agency error",
          "[adapters][internet_finance]") {
  const auto answer = regression("fuzz_answer_internet_finance", "error-code-not-a-string");
  const auto page = a::internet_finance::parse_page(answer.status, answer.body);
  REQUIRE_FALSE(page.ok());
  CHECK(page.error().code == "agency_error");
  CHECK(page.error().message == "agency answered error (none)");
  const auto named = a::internet_finance::parse_page(200, R"({"success":false,"error_code":"E42"})");
  REQUIRE_FALSE(named.ok());
  CHECK(named.error().message == "agency answered error E42");
}

TEST_CASE("adapters: a securities 404 whose code is not a number is an agency error, not a crash",
          "[adapters][securities]") {
  const auto answer = regression("fuzz_answer_securities", "not-found-code-not-a-number");
  const auto page = a::securities::parse_page(answer.status, answer.body);
  REQUIRE_FALSE(page.ok());
  CHECK(page.error().code == "agency_error");
  const auto not_found = a::securities::parse_page(404, R"({"code":40401})");
  REQUIRE(not_found.ok());
  CHECK(not_found->not_found);
}
