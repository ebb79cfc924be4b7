#include <catch2/catch.hpp>

#include <string>

#include "common/records.hpp"
#include "common/text.hpp"

using hfv::restricted_text;

TEST_CASE("Agency text: control, direction and invalid bytes become U+FFFD, valid text is kept", "[unit]") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(restricted_text("中国工商银行哈尔滨道里支行", 128) == "中国工商银行哈尔滨道里支行");
  CHECK(restricted_text(std::string("a\0b", 3), 16) == "a" + fffd + "b");
  CHECK(restricted_text("line\nbreak\x1b[31m", 64) == "line" + fffd + "break" + fffd + "[31m");
  CHECK(restricted_text("x\xE2\x80\xAEgpj.exe", 64) == "x" + fffd + "gpj.exe");  // U+202E
  CHECK(restricted_text("\xEF\xBB\xBFok", 64) == fffd + "ok");                      // U+FEFF
  CHECK(restricted_text("\xC2\x85", 64) == fffd);                                   // C1 NEL
  CHECK(restricted_text("bad\xFF\xC0\x80", 64) == "bad" + fffd + fffd + fffd);      // invalid, overlong
  CHECK(restricted_text("cut\xE4\xB8", 64) == "cut" + fffd + fffd);                 // sequence cut short
  CHECK(restricted_text("\xED\xA0\x80", 64) == fffd + fffd + fffd);                 // a surrogate
}

TEST_CASE("Agency text: a long text is cut at a character boundary within the limit, with an ellipsis", "[unit]") {
  const std::string ellipsis = "\xE2\x80\xA6";
  CHECK(restricted_text(std::string(10, 'a'), 10) == std::string(10, 'a'));
  CHECK(restricted_text(std::string(11, 'a'), 10) == std::string(7, 'a') + ellipsis);
  // Three-byte characters: never half of one.
  const std::string han = "银行银行银行";  // 18 bytes
  const std::string cut = restricted_text(han, 10);
  CHECK(cut == "银行" + ellipsis);
  CHECK(cut.size() <= 10);
  CHECK(restricted_text(std::string(100000, 'x'), 200).size() <= 200);
}

TEST_CASE("Agency text: every text of an agency's answer is restricted before it is kept", "[unit]") {
  hfv::SourceResult result;
  result.detail = std::string(5000, 'd') + "\n";
  hfv::MonetaryHolding holding;
  holding.institution = "Bank\x1b]0;owned\x07" + std::string(1000, 'b');
  holding.account_masked = "6222****\r\n1234";
  result.records.holdings.push_back(holding);
  hfv::BusinessRecord business;
  business.status = "active\xE2\x80\xAE";
  result.records.businesses.push_back(business);
  hfv::restrict_supplied_text(result);
  CHECK(result.detail.size() <= hfv::kMaxAgencyDetailBytes);
  CHECK(result.detail.find('\n') == std::string::npos);
  const auto& kept = result.records.holdings.at(0);
  CHECK(kept.institution.size() <= hfv::kMaxAgencyNameBytes);
  CHECK(kept.institution.find('\x1b') == std::string::npos);
  CHECK(kept.institution.find('\x07') == std::string::npos);
  CHECK(kept.account_masked.find('\r') == std::string::npos);
  CHECK(result.records.businesses.at(0).status == "active\xEF\xBF\xBD");
}
