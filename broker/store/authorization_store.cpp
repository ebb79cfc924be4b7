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

AuthorizationColumns authorization_columns(const StoredAuthorization& a) {
  return {a.id,
          a.principal,
          a.case_id,
          a.valid_from.to_string(),
          a.valid_until.to_string(),
          a.form_sha256,
          categories_json(a).dump(),
          a.member_commitments.empty()
              ? nlohmann::json(a.member_pseudonyms).dump()
              : nlohmann::json{{"pseudonyms", a.member_pseudonyms},
                               {"commitments", a.member_commitments},
                               {"digest", a.digest}}
                    .dump(),
          a.created_at,
          a.revoked_at,
          a.jurisdiction};
}

Result<StoredAuthorization> authorization_from_columns(const AuthorizationColumns& c) {
  using nlohmann::json;
  StoredAuthorization a;
  auto from = Date::parse(c.valid_from);
  auto until = Date::parse(c.valid_until);
  const json categories = json::parse(c.categories, nullptr, false);
  const json column = json::parse(c.members, nullptr, false);
  // (Rows of the first cross-region build have no "digest".)
  const bool with_commitments = column.is_object() && column.contains("pseudonyms") &&
                                column["pseudonyms"].is_array() && column.contains("commitments") &&
                                column["commitments"].is_array() &&
                                column.size() == (column.contains("digest") ? 3U : 2U) &&
                                (!column.contains("digest") || column["digest"].is_string());
  const json members = with_commitments ? column["pseudonyms"] : column;
  if (!from || !until || categories.is_discarded() || !members.is_array()) {
    return make_error("corrupt_state", "authorization record cannot be read");
  }
  a.id = c.id;
  a.principal = c.principal;
  a.case_id = c.case_id;
  a.jurisdiction = c.jurisdiction;
  a.valid_from = *from;
  a.valid_until = *until;
  a.form_sha256 = c.form_sha256;
  if (categories.is_string()) {
    a.all_categories = true;
  } else {
    for (const auto& name : categories) {
      if (!name.is_string()) return make_error("corrupt_state", "authorization record cannot be read");
      if (auto s = parse_source(name.get<std::string>())) a.categories.push_back(*s);
    }
  }
  for (const auto& m : members) {
    if (!m.is_string()) return make_error("corrupt_state", "authorization record cannot be read");
    a.member_pseudonyms.insert(m.get<std::string>());
  }
  if (with_commitments) {
    if (column.contains("digest")) a.digest = column["digest"].get<std::string>();
    for (const auto& m : column["commitments"]) {
      if (!m.is_string()) return make_error("corrupt_state", "authorization record cannot be read");
      a.member_commitments.push_back(m.get<std::string>());
    }
  }
  a.created_at = c.created_at;
  a.revoked_at = c.revoked_at;
  return a;
}

}  // namespace hfv::broker
