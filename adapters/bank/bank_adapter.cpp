#include "adapters/bank/bank_adapter.hpp"

#include <nlohmann/json.hpp>

#include "crypto/hash.hpp"

namespace hfv::adapters::bank {

namespace net = boost::asio;
using nlohmann::json;

namespace {

constexpr long kPageSize = 50;
constexpr long kMaxPages = 200;  // 10,000 accounts: anything beyond is a broken agency

Result<std::string> string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return make_error("malformed_answer", std::string("field '") + key + "' missing or not a string");
  }
  return it->get<std::string>();
}

}  // namespace

std::string mask_account(std::string_view account) {
  if (account.size() <= 4) return std::string(account.size(), '*');
  return std::string(account.size() - 4, '*') + std::string(account.substr(account.size() - 4));
}

Result<BankPage> parse_bank_page(std::string_view body, long expected_page) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("malformed_answer", "answer is not a JSON object");
  auto code = string_field(doc, "retCode");
  if (!code) return code.error();
  BankPage page;
  if (*code == "1001") {
    page.not_found = true;
    return page;
  }
  if (*code != "0000") return make_error("agency_error", "agency answered retCode " + *code);
  auto b = doc.find("body");
  if (b == doc.end() || !b->is_object()) return make_error("malformed_answer", "'body' missing");
  auto total = b->find("totalCount");
  auto page_no = b->find("pageNo");
  auto accounts = b->find("accounts");
  if (total == b->end() || !total->is_number_integer() || total->get<long>() < 0) {
    return make_error("malformed_answer", "'totalCount' missing or not a non-negative integer");
  }
  if (page_no == b->end() || !page_no->is_number_integer() || page_no->get<long>() != expected_page) {
    return make_error("malformed_answer", "'pageNo' missing or not the page asked for");
  }
  if (accounts == b->end() || !accounts->is_array()) return make_error("malformed_answer", "'accounts' missing");
  page.total_count = total->get<long>();
  for (const json& a : *accounts) {
    if (!a.is_object()) return make_error("malformed_answer", "account entry is not an object");
    auto bank_name = string_field(a, "bankName");
    auto account_no = string_field(a, "acctNo");
    auto balance_text = string_field(a, "balance");
    auto date_text = string_field(a, "balanceDate");
    auto currency = string_field(a, "currency");
    for (const auto* r : {&bank_name, &account_no, &balance_text, &date_text, &currency}) {
      if (!*r) return r->error();
    }
    if (*currency != "CNY") return make_error("unsupported_answer", "account in currency other than CNY");
    const auto balance = Money::parse(*balance_text);
    if (!balance) return make_error("malformed_answer", "'balance' is not a decimal amount");
    if (*balance < Money{}) return make_error("malformed_answer", "'balance' is negative");
    std::optional<Date> as_of;
    if (date_text->size() == 8) {
      as_of = Date::parse(date_text->substr(0, 4) + "-" + date_text->substr(4, 2) + "-" +
                          date_text->substr(6, 2));
    }
    if (!as_of) return make_error("malformed_answer", "'balanceDate' is not a YYYYMMDD date");
    page.accounts.push_back(MonetaryHolding{*bank_name, mask_account(*account_no), *balance, as_of});
  }
  return page;
}

BankAdapter::BankAdapter(AgencyConfig config, HttpClient& http)
    : config_(std::move(config)), http_(http) {}

net::awaitable<SourceResult> BankAdapter::query(const MemberQuery& member, Deadline deadline) {
  SourceResult result;
  result.member_index = member.member_index;
  result.source = Source::kBank;
  crypto::Sha256 evidence;
  const auto started = std::chrono::steady_clock::now();
  auto fail = [&](SourceStatus status, std::string detail) {
    result.status = status;
    result.detail = std::move(detail);
    result.records.holdings.clear();  // never partial data on failure
  };

  for (long page_no = 1;; ++page_no) {
    if (page_no > kMaxPages) {
      fail(SourceStatus::kError, "agency returned more pages than allowed");
      break;
    }
    HttpRequest request;
    request.url = config_.base_url + "/bank/v2/deposit-inquiry";
    request.headers = {"Content-Type: application/json", "Accept: application/json",
                       "X-Query-Id: " + member.query_id};
    request.body = json{{"certType", "01"}, {"certNo", member.id_number}, {"queryId", member.query_id},
                        {"pageNo", page_no}, {"pageSize", kPageSize}}
                       .dump();
    request.tls = config_.tls;
    request.connect_timeout = config_.connect_timeout;
    request.total_timeout = time_left(deadline, config_.timeout);
    if (std::chrono::steady_clock::now() >= deadline) {
      fail(SourceStatus::kTimeout, "deadline passed before the query could be sent");
      break;
    }
    HttpResult http = co_await http_.fetch(std::move(request));
    ++result.attempts;
    if (http.error != HttpErrorKind::kNone) {
      fail(http.error == HttpErrorKind::kTimeout ? SourceStatus::kTimeout : SourceStatus::kError,
           std::string(http_error_name(http.error)) + ": " + http.error_detail);
      break;
    }
    evidence.update(http.response.body);
    if (http.response.status != 200) {
      fail(SourceStatus::kError, "agency answered HTTP " + std::to_string(http.response.status));
      break;
    }
    auto page = parse_bank_page(http.response.body, page_no);
    if (!page) {
      fail(SourceStatus::kError, page.error().message);
      break;
    }
    if (page->not_found) {
      if (page_no == 1) {
        result.status = SourceStatus::kNotFound;
      } else {
        fail(SourceStatus::kError, "customer vanished between pages");
      }
      break;
    }
    auto& accounts = result.records.holdings;
    accounts.insert(accounts.end(), page->accounts.begin(), page->accounts.end());
    const auto have = static_cast<long>(accounts.size());
    if (have == page->total_count) {
      result.status = SourceStatus::kOk;
      break;
    }
    if (have > page->total_count || page->accounts.empty()) {
      fail(SourceStatus::kError, "pages do not add up to totalCount");
      break;
    }
  }
  result.received_at = utc_timestamp_now();
  result.latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (result.attempts > 0) result.evidence_sha256 = crypto::to_hex(evidence.finish());
  co_return result;
}

}  // namespace hfv::adapters::bank
