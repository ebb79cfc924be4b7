// Small helpers the simulated agencies share: JSON replies, strict checks of
// dataset values (decimal-yuan amounts, ISO dates), request-body parsing,
// the checks every endpoint makes before reading its own fields (path, POST,
// JSON body, certificate type, ID number), paging parameters and cursors,
// and a validator for list-shaped dataset records. Each agency still answers
// in its own wire shape, with its own error codes and messages; only these
// mechanics are common.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "simulator/agency.hpp"

namespace hfv::sim::wire {

std::string dump(const Json& j);
Reply json_reply(int status, const Json& body);

// -?digits(.d{1,2})?
bool is_decimal_yuan(std::string_view s);
// YYYY-MM-DD naming a real day.
bool is_iso_date(std::string_view s);
bool is_json_media_type(std::string_view content_type);

// The body of a JSON POST, or nullopt if the content type is not JSON or
// the body is not a JSON object.
std::optional<Json> json_object_body(const AgencyRequest& request);

// An agency's one POST endpoint and the replies refusing a request to it
// before its fields are read; each builds the agency's own error reply.
struct Endpoint {
  std::string_view path;
  Reply (*no_such_path)();     // 404
  Reply (*not_post)();         // 405; "Allow: POST" is added
  Reply (*not_json_object)();  // 400
};

// Where a request names the person: `field` must hold an 18-character
// string (the ID number); when `cert_type_field` is set, that field may be
// absent but, when present, must equal `cert_type` (checked first).
struct PersonId {
  const char* field;
  Reply (*invalid)();  // 400
  const char* cert_type_field = nullptr;
  const char* cert_type = nullptr;
  Reply (*wrong_cert_type)() = nullptr;  // 400
};

// The JSON object body of a POST to `endpoint.path`, or nullopt with
// `out.reply` set to the endpoint's refusal (path, then method, then body).
std::optional<Json> post_body(const AgencyRequest& request, const Endpoint& endpoint, AgencyAnswer& out);

// Reads the person `object` names into `out.person`; false with `out.reply`
// set to the refusal when the certificate type or the ID number is wrong.
bool read_person(const Json& object, const PersonId& id, AgencyAnswer& out);

// Upper bounds for integer_field: none at all, and the largest offset
// (offsets are read as signed 64-bit integers).
inline constexpr std::uint64_t kUnbounded = std::numeric_limits<std::uint64_t>::max();
inline constexpr std::uint64_t kMaxOffset = std::numeric_limits<std::int64_t>::max();

// An optional integer field of `object`: `absent` when it is missing, the
// value when it is a JSON integer from `min` to `max`, else nullopt.
std::optional<std::uint64_t> integer_field(const Json& object, const char* key, std::uint64_t absent,
                                           std::uint64_t min, std::uint64_t max);

// A page cursor as the agencies issue them, `prefix` and the offset in 1 to
// 9 decimal digits ("c20"); "" means the first page (offset 0). nullopt for
// anything else, a non-string included.
std::optional<std::size_t> cursor_offset(const Json& cursor, std::string_view prefix);

// Validates a list of record objects: every field in `strings` must be a
// non-empty string, `amounts` decimal-yuan strings, `dates` YYYY-MM-DD;
// fields in `optional_strings` may be absent; anything else is an error.
std::optional<std::string> validate_list(const Json& records, std::initializer_list<const char*> strings,
                                         std::initializer_list<const char*> amounts,
                                         std::initializer_list<const char*> dates,
                                         std::initializer_list<const char*> optional_strings);

// Decimal-yuan string to integer fen ("12.3" -> 1230). Precondition: is_decimal_yuan.
std::int64_t yuan_to_fen(std::string_view s);

// A decimal-yuan string that is not negative.
bool is_non_negative_yuan(std::string_view s);
// YYYY-MM with a month 01-12 and a year from 1900.
bool is_year_month(std::string_view s);
// Integer fen as "1234.56" (always two decimals; "-0.05" for negatives).
std::string fen_to_yuan(std::int64_t fen);

// Checks that `r` (at `at`, e.g. "[2]") is an object holding every key of
// `required`, and no key outside `required` and `optional`. Returns the
// problem, or nullopt.
std::optional<std::string> check_keys(const Json& r, const std::string& at,
                                      std::initializer_list<const char*> required,
                                      std::initializer_list<const char*> optional);
// `r[key]` is a string drawn from `allowed`; nullopt when it is.
std::optional<std::string> check_enum(const Json& r, const std::string& at, const char* key,
                                      std::initializer_list<const char*> allowed);
// `r[key]` is a non-empty string.
std::optional<std::string> check_string(const Json& r, const std::string& at, const char* key);
// `r[key]` is a non-negative decimal-yuan string.
std::optional<std::string> check_amount(const Json& r, const std::string& at, const char* key);
// "[i]" for list position i.
std::string index_at(std::size_t i);

}  // namespace hfv::sim::wire
