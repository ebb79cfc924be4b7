// Consent: whether a household's authorisation (声明授权书, kept in the
// AuthorizationStore, broker/store/authorization_store.hpp) covers a
// verification, and how an authorisation is shown to its owner.
// Pure functions, thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
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
// `commitment_of(id, id_number)` gives each member's commitment (below)
// under the new id; null: none (a test's authorisation, unusable through a
// peer).
StoredAuthorization new_authorization(
    const AuthorizationRequest& request, const std::vector<std::string>& member_pseudonyms,
    const std::string& principal,
    const std::function<std::string(const std::string& id, const std::string& id_number)>& commitment_of = {});

// Cross-region verification (docs/cross-region.md "The authorisation
// digest"). A member's commitment: hex SHA-256 of
// "hfv-member/v1\n" + salt + "\n" + ID number, the salt (64 hex) known
// only to the broker that registered the authorisation (derived from its
// keys) and sent to a peer with that member's ID number alone, so a peer
// learns nothing of the members it is not asked about.
std::string member_commitment(std::string_view salt, std::string_view id_number);
// The digest of an authorisation's terms: hex SHA-256 of
// "hfv-authorization/v1\n" + the canonical JSON of {authorization_id,
// case_id, jurisdiction, categories, valid_from, valid_until, form_sha256,
// member_commitments}. The origin audits it at registration; a peer
// recomputes it from the terms it is sent.
std::string authorization_digest(const StoredAuthorization& auth);
// The terms a peer is sent (with the digest registered, not recomputed),
// and the authorisation they describe.
PeerAuthorization peer_authorization(const StoredAuthorization& auth);
StoredAuthorization authorization_of(const PeerAuthorization& terms);

nlohmann::json authorization_json(const StoredAuthorization& auth);

}  // namespace hfv::broker
