// Bank adapter: deposit inquiry at the (simulated) bank agency.
// Wire format (see simulator/README.md): POST /bank/v2/deposit-inquiry with
// {"certType":"01","certNo","queryId","pageNo","pageSize"}; answers carry a
// retCode ("0000" success, "1001" no customer) and pages of accounts whose
// balances are decimal strings and dates YYYYMMDD. All pages are fetched; an
// answer that does not parse exactly is an error for the source.
#pragma once

#include <string_view>

#include "adapters/adapter.hpp"
#include "common/result.hpp"

namespace hfv::adapters::bank {

inline constexpr std::string_view kName = "bank";

class BankAdapter final : public Adapter {
 public:
  BankAdapter(AgencyConfig config, HttpClient& http);
  Source source() const override { return Source::kBank; }
  boost::asio::awaitable<SourceResult> query(const MemberQuery& member, Deadline deadline) override;

 private:
  AgencyConfig config_;
  HttpClient& http_;
};

// Result of parsing one page of the bank's answer; pure, for tests.
struct BankPage {
  bool not_found = false;
  long total_count = 0;
  std::vector<MonetaryHolding> accounts;
};
Result<BankPage> parse_bank_page(std::string_view body, long expected_page);

// Keeps the last four characters, masks the rest.
std::string mask_account(std::string_view account);

}  // namespace hfv::adapters::bank
