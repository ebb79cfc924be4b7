#include "broker/store/authorization_store.hpp"

#include <algorithm>

namespace hfv::broker {

bool StoredAuthorization::allows(Source source) const {
  return all_categories ||
         std::find(categories.begin(), categories.end(), source) != categories.end();
}

nlohmann::json categories_json(const StoredAuthorization& a) {
  if (a.all_categories) return "all";
  nlohmann::json names = nlohmann::json::array();
  for (Source s : a.categories) names.push_back(source_name(s));
  return names;
}

}  // namespace hfv::broker
