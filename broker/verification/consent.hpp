// Consent: whether a household's authorisation (声明授权书, kept in the
// AuthorizationStore, broker/store/authorization_store.hpp) covers a
// verification, and how an authorisation is shown to its owner.
// Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "broker/store/authorization_store.hpp"
#include "broker/verification/request.hpp"
#include "common/result.hpp"

namespace hfv::broker {

// Why an authorisation does not cover a verification; nullopt when it does.
struct ConsentProblem {
  std::string code;   // consent_revoked | consent_not_yet_valid | consent_expired |
                      // consent_other_case | consent_without_jurisdiction |
                      // consent_other_jurisdiction | member_not_covered
  std::string field;  // the request field at fault
  std::string message;
};
std::optional<ConsentProblem> check_consent(const StoredAuthorization& auth,
                                            const std::string& case_id,
                                            const std::string& jurisdiction,
                                            const std::vector<std::string>& member_pseudonyms,
                                            const Date& today);

// A new authorisation from a registration request: a fresh id, created now.
StoredAuthorization new_authorization(const AuthorizationRequest& request,
                                      const std::vector<std::string>& member_pseudonyms,
                                      const std::string& principal);

nlohmann::json authorization_json(const StoredAuthorization& auth);

}  // namespace hfv::broker
