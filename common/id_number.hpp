// Resident identity numbers (GB 11643-1999): 17 digits and a check character
// (ISO 7064 MOD 11-2, '0'-'9' or 'X'), with the holder's birth date in digits
// 7-14. The raw number is personal data: it never goes into logs, error
// messages or plaintext storage; use mask() for display and the keyed
// pseudonym from crypto/ for records. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/date.hpp"

namespace hfv {

enum class IdNumberProblem {
  kNone,
  kLength,        // not 18 characters
  kCharacters,    // non-digit in the first 17, or a bad last character
  kChecksum,      // ISO 7064 MOD 11-2 check character does not match
  kBirthDate,     // digits 7-14 are not a real date
  kFutureBirth,   // birth date after the reference date
};

// The check character for the first 17 digits ('0'-'9' or 'X'). Precondition:
// body holds exactly 17 ASCII digits.
char id_check_character(std::string_view body17);

// Validates the number as of `today`. A lowercase 'x' is not accepted: callers
// send the canonical form.
IdNumberProblem validate_id_number(std::string_view id, const Date& today);
std::string_view describe(IdNumberProblem problem);

// Birth date of a number that passed validation.
std::optional<Date> id_birth_date(std::string_view id);

// "230102********0011": the first six and last four characters; anything that
// is not 18 characters long masks completely.
std::string mask_id_number(std::string_view id);

}  // namespace hfv
