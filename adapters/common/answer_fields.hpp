// Strict readers for agency answers, shared by the adapters: required JSON
// fields of an exact type, decimal amounts in the forms agencies use
// (grouped "8,200.50", ten-thousands of yuan "12.345600", integer fen),
// compact dates and periods, and masking of identifiers that may hold
// UTF-8 (plates, certificate numbers). Every reader returns an Error coded
// "malformed_answer" naming the field, never the value (values may be
// personal data).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/date.hpp"
#include "common/money.hpp"
#include "common/result.hpp"

namespace hfv::adapters::fields {

using nlohmann::json;

Error malformed(std::string_view what);
// The answer parsed as a JSON object.
Result<json> parse_object(std::string_view body);
// An answer with HTTP status 200 parsed as a JSON object; any other status
// is an "agency_error" naming it.
Result<json> parse_answer(long status, std::string_view body);
Result<std::string> string_of(const json& object, const char* key);
// A string field that must not be empty.
Result<std::string> nonempty_string_of(const json& object, const char* key);
Result<const json*> object_of(const json& object, const char* key);
Result<const json*> array_of(const json& object, const char* key);
Result<bool> bool_of(const json& object, const char* key);
// A JSON integer (not a float, not a string) within [min, max].
Result<std::int64_t> integer_of(const json& object, const char* key, std::int64_t min, std::int64_t max);

// "1,234,567.89" or "1234.56": groups of three after the first group, one
// or two decimals; never negative.
std::optional<Money> parse_grouped_yuan(std::string_view text);
// Ten-thousands of yuan with up to six decimals ("12.3456" = 123456.00 yuan),
// never negative.
std::optional<Money> parse_wan_yuan(std::string_view text);
// "YYYYMM" -> (year, month).
std::optional<std::pair<int, unsigned>> parse_compact_period(std::string_view text);
// A positive decimal with up to two decimals and up to 7 integer digits, in
// hundredths ("85.2" -> 8520).
std::optional<std::int64_t> parse_centi(std::string_view text);

// Replaces all but the last `keep` characters (UTF-8 code points) by '*'.
std::string mask_text(std::string_view text, std::size_t keep = 4);

}  // namespace hfv::adapters::fields
