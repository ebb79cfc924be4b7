#include "broker/api/query_string.hpp"

#include "crypto/hash.hpp"

namespace hfv::broker {

std::optional<std::map<std::string, std::string>> query_params(std::string_view target) {
  std::map<std::string, std::string> out;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  auto decode = [](std::string_view s) -> std::optional<std::string> {
    std::string d;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        d += ' ';
      } else if (s[i] == '%') {
        if (i + 2 >= s.size()) return std::nullopt;
        const auto byte = crypto::from_hex(s.substr(i + 1, 2));
        if (!byte) return std::nullopt;
        d += static_cast<char>(byte->front());
        i += 2;
      } else {
        d += s[i];
      }
    }
    return d;
  };
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = decode(pair.substr(0, eq));
    auto value = decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out[*key] = *value;
  }
  return out;
}

std::string query_value(std::string_view target, const std::string& key) {
  const auto params = query_params(target);
  if (!params) return {};
  const auto it = params->find(key);
  return it == params->end() ? std::string() : it->second;
}

}  // namespace hfv::broker
