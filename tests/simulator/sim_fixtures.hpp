// Shared test data for the simulator tests: a small dataset with a person
// holding three bank accounts, helpers to build requests.
#pragma once

#include <string>

#include "simulator/agency.hpp"
#include "simulator/dataset.hpp"

namespace hfv::sim::testing {

inline constexpr const char* kRich = "110101199003070011";    // 3 accounts, hukou name
inline constexpr const char* kNoName = "110101199003070027";  // 1 account, no hukou
inline constexpr const char* kNoBank = "110101199003070035";  // hukou only
inline constexpr const char* kEmpty = "110101199003070043";   // bank: []
inline constexpr const char* kAbsent = "110101199003070099";  // not in the dataset

inline std::string sample_dataset_text() {
  return R"({
  "persons": {
    "110101199003070011": {
      "hukou": {"name": "张三", "division": "110101", "status": "normal"},
      "bank": [
        {"bank": "中国工商银行", "account": "6222020200112233445", "balance": "12345.67", "as_of": "2026-11-01"},
        {"bank": "中国建设银行", "account": "6217000010001234567", "balance": "0.50", "as_of": "2026-10-31"},
        {"bank": "招商银行", "account": "6225880011223344", "balance": "300", "as_of": "2024-02-29",
         "currency": "USD", "acct_type": "TIME"}
      ]
    },
    "110101199003070027": {
      "bank": [{"bank": "中国银行", "account": "6013820000123456789", "balance": "1.00", "as_of": "2026-01-05"}]
    },
    "110101199003070035": {"hukou": {"name": "李四", "division": "110101", "status": "normal"}},
    "110101199003070043": {"bank": []}
  },
  "faults": {
    "bank": {"latency_ms": 25, "all": "error_503",
             "persons": {"110101199003070011": "none", "110101199003070027": "none",
                         "110101199003070035": "none", "110101199003070043": "none",
                         "110101199003070051": "timeout"}},
    "tax": {"all": "reset"}
  }
})";
}

// The same persons without faults.
inline std::string plain_dataset_text() {
  std::string text = sample_dataset_text();
  const auto at = text.find(",\n  \"faults\"");
  return text.substr(0, at) + "\n}";
}

inline AgencyAnswer ask_bank(const Dataset& dataset, const std::string& body,
                             std::string_view content_type = "application/json",
                             std::string_view method = "POST",
                             std::string_view path = "/bank/v2/deposit-inquiry") {
  const Agency* bank = find_agency("bank");
  return bank->answer(dataset, AgencyRequest{method, path, content_type, body});
}

}  // namespace hfv::sim::testing
