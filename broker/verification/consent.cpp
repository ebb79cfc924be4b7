#include "broker/verification/consent.hpp"

#include <algorithm>

#include "common/time.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

using nlohmann::json;

std::optional<ConsentProblem> check_consent(const StoredAuthorization& auth,
                                            const std::string& case_id,
                                            const std::string& jurisdiction,
                                            const std::vector<std::string>& member_pseudonyms,
                                            const Date& today) {
  if (!auth.revoked_at.empty()) {
    return ConsentProblem{"consent_revoked", "authorization_id", "the authorization was revoked"};
  }
  if (today < auth.valid_from) {
    return ConsentProblem{"consent_not_yet_valid", "authorization_id",
                          "the authorization is valid only from " + auth.valid_from.to_string()};
  }
  if (today > auth.valid_until) {
    return ConsentProblem{"consent_expired", "authorization_id",
                          "the authorization expired on " + auth.valid_until.to_string()};
  }
  if (auth.case_id != case_id) {
    return ConsentProblem{"consent_other_case", "authorization_id",
                          "the authorization belongs to another case"};
  }
  if (auth.jurisdiction.empty()) {
    // Kept from before authorisations named their jurisdiction: which
    // region's supervisors may see it is unknown, so it covers nothing.
    return ConsentProblem{"consent_without_jurisdiction", "authorization_id",
                          "the authorization was registered before authorizations named a jurisdiction: "
                          "register it again with its jurisdiction"};
  }
  if (auth.jurisdiction != jurisdiction) {
    return ConsentProblem{"consent_other_jurisdiction", "jurisdiction",
                          "the authorization was registered for jurisdiction " + auth.jurisdiction};
  }
  for (std::size_t i = 0; i < member_pseudonyms.size(); ++i) {
    if (!auth.member_pseudonyms.contains(member_pseudonyms[i])) {
      return ConsentProblem{"member_not_covered", "members[" + std::to_string(i) + "].id_number",
                            "this member did not sign the authorization"};
    }
  }
  return std::nullopt;
}

StoredAuthorization new_authorization(
    const AuthorizationRequest& request, const std::vector<std::string>& member_pseudonyms,
    const std::string& principal,
    const std::function<std::string(const std::string& id, const std::string& id_number)>& commitment_of) {
  StoredAuthorization a;
  a.id = "auth_" + crypto::to_hex(crypto::random_bytes(12));
  a.principal = principal;
  a.case_id = request.case_id;
  a.jurisdiction = request.jurisdiction;
  a.valid_from = request.valid_from;
  a.valid_until = request.valid_until;
  a.form_sha256 = request.form_sha256;
  a.all_categories = request.all_categories;
  a.categories = request.categories;
  a.member_pseudonyms.insert(member_pseudonyms.begin(), member_pseudonyms.end());
  if (commitment_of) {
    for (const auto& id_number : request.members) a.member_commitments.push_back(commitment_of(a.id, id_number));
    std::sort(a.member_commitments.begin(), a.member_commitments.end());
    a.digest = authorization_digest(a);
  }
  a.created_at = utc_timestamp_now();
  return a;
}

std::string member_commitment(std::string_view salt, std::string_view id_number) {
  std::string text = "hfv-member/v1\n";
  text.append(salt).append("\n").append(id_number);
  return crypto::to_hex(crypto::sha256(text));
}

std::string authorization_digest(const StoredAuthorization& a) {
  const json terms = {{"authorization_id", a.id},
                      {"case_id", a.case_id},
                      {"jurisdiction", a.jurisdiction},
                      {"categories", categories_json(a)},
                      {"valid_from", a.valid_from.to_string()},
                      {"valid_until", a.valid_until.to_string()},
                      {"form_sha256", a.form_sha256},
                      {"member_commitments", a.member_commitments}};
  return crypto::to_hex(crypto::sha256("hfv-authorization/v1\n" + terms.dump()));
}

PeerAuthorization peer_authorization(const StoredAuthorization& a) {
  PeerAuthorization t;
  t.authorization_id = a.id;
  t.case_id = a.case_id;
  t.jurisdiction = a.jurisdiction;
  t.all_categories = a.all_categories;
  t.categories = a.categories;
  t.valid_from = a.valid_from;
  t.valid_until = a.valid_until;
  t.form_sha256 = a.form_sha256;
  t.member_commitments = a.member_commitments;
  // As registered: terms altered since no longer match it (a row of the
  // first cross-region build, without one, has it computed).
  t.digest = a.digest.empty() ? authorization_digest(a) : a.digest;
  return t;
}

StoredAuthorization authorization_of(const PeerAuthorization& t) {
  StoredAuthorization a;
  a.id = t.authorization_id;
  a.case_id = t.case_id;
  a.jurisdiction = t.jurisdiction;
  a.all_categories = t.all_categories;
  a.categories = t.categories;
  a.valid_from = t.valid_from;
  a.valid_until = t.valid_until;
  a.form_sha256 = t.form_sha256;
  a.member_commitments = t.member_commitments;
  return a;
}

json authorization_json(const StoredAuthorization& a) {
  json j = {{"authorization_id", a.id},
            {"case_id", a.case_id},
            {"valid_from", a.valid_from.to_string()},
            {"valid_until", a.valid_until.to_string()},
            {"form_sha256", a.form_sha256},
            {"categories", categories_json(a)},
            {"member_count", a.member_pseudonyms.size()},
            {"created_at", a.created_at},
            {"status", a.revoked_at.empty() ? "active" : "revoked"}};
  if (!a.revoked_at.empty()) j["revoked_at"] = a.revoked_at;
  if (!a.jurisdiction.empty()) j["jurisdiction"] = a.jurisdiction;
  return j;
}

}  // namespace hfv::broker
