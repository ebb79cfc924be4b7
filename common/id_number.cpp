#include "common/id_number.hpp"

namespace hfv {

char id_check_character(std::string_view body17) {
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char kCodes[] = "10X98765432";
  int sum = 0;
  for (std::size_t i = 0; i < 17; ++i) sum += (body17[i] - '0') * kWeights[i];
  return kCodes[sum % 11];
}

std::optional<Date> id_birth_date(std::string_view id) {
  if (id.size() != 18) return std::nullopt;
  const std::string text = std::string(id.substr(6, 4)) + "-" + std::string(id.substr(10, 2)) +
                           "-" + std::string(id.substr(12, 2));
  return Date::parse(text);
}

IdNumberProblem validate_id_number(std::string_view id, const Date& today) {
  if (id.size() != 18) return IdNumberProblem::kLength;
  for (std::size_t i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return IdNumberProblem::kCharacters;
  }
  const char last = id[17];
  if (!((last >= '0' && last <= '9') || last == 'X')) return IdNumberProblem::kCharacters;
  if (id_check_character(id.substr(0, 17)) != last) return IdNumberProblem::kChecksum;
  const auto birth = id_birth_date(id);
  if (!birth) return IdNumberProblem::kBirthDate;
  if (*birth > today) return IdNumberProblem::kFutureBirth;
  return IdNumberProblem::kNone;
}

std::string_view describe(IdNumberProblem problem) {
  switch (problem) {
    case IdNumberProblem::kNone: return "valid";
    case IdNumberProblem::kLength: return "must be 18 characters";
    case IdNumberProblem::kCharacters: return "must be 17 digits followed by a digit or 'X'";
    case IdNumberProblem::kChecksum: return "check character does not match (ISO 7064 MOD 11-2)";
    case IdNumberProblem::kBirthDate: return "birth date digits are not a real date";
    case IdNumberProblem::kFutureBirth: return "birth date is in the future";
  }
  return "invalid";
}

std::string mask_id_number(std::string_view id) {
  if (id.size() != 18) return std::string(id.size(), '*');
  return std::string(id.substr(0, 6)) + std::string(8, '*') + std::string(id.substr(14, 4));
}

}  // namespace hfv
