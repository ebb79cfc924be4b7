// The pure helpers declared in paged_query.hpp that read one answer (outcome
// codes, masking, amounts) and gather pages' records. Kept apart from the
// paging loop so that the answer parsers build without the HTTP client (the
// fuzz targets in tests/fuzz link them alone). Thread-safety: pure functions.
#include "adapters/common/paged_query.hpp"

namespace hfv::adapters {

namespace {
std::optional<Result<Page>> outcome_of(bool ok, bool not_found, std::string_view field, const std::string& code) {
  if (ok) return std::nullopt;
  if (not_found) {
    Page page;
    page.not_found = true;
    return page;
  }
  std::string message = "agency answered ";
  message.append(field).append(" ").append(code);
  return Result<Page>(make_error("agency_error", std::move(message)));
}
}  // namespace

std::optional<Result<Page>> answer_outcome(const std::string& code, std::string_view ok, std::string_view not_found,
                                           std::string_view field) {
  return outcome_of(code == ok, code == not_found, field, code);
}

std::optional<Result<Page>> answer_outcome(std::int64_t code, std::int64_t ok, std::int64_t not_found,
                                           std::string_view field) {
  return outcome_of(code == ok, code == not_found, field, std::to_string(code));
}

std::string mask_account(std::string_view account) {
  if (account.size() <= 4) return std::string(account.size(), '*');
  return std::string(account.size() - 4, '*') + std::string(account.substr(account.size() - 4));
}

Result<Money> parse_non_negative_amount(std::string_view text, const char* field) {
  const auto amount = Money::parse(text);
  if (!amount) return make_error("malformed_answer", std::string("'") + field + "' is not a decimal amount");
  if (*amount < Money{}) return make_error("malformed_answer", std::string("'") + field + "' is negative");
  return *amount;
}

std::size_t item_count(const NormalisedRecords& r) {
  return r.holdings.size() + r.income.size() + r.contributions.size() + r.real_estate.size() +
         r.vehicles.size() + r.businesses.size();
}

void append_records(NormalisedRecords& into, NormalisedRecords&& page) {
  auto move_all = [](auto& to, auto& from) { to.insert(to.end(), std::make_move_iterator(from.begin()),
                                                       std::make_move_iterator(from.end())); };
  move_all(into.holdings, page.holdings);
  move_all(into.income, page.income);
  move_all(into.contributions, page.contributions);
  move_all(into.real_estate, page.real_estate);
  move_all(into.vehicles, page.vehicles);
  move_all(into.businesses, page.businesses);
  if (page.provident_fund) into.provident_fund = page.provident_fund;
  if (page.hukou) into.hukou = page.hukou;
}

}  // namespace hfv::adapters
