// AuthorizationStore: the households' signed consents (声明授权书) the
// broker holds, members kept only as keyed pseudonyms. An authorisation
// belongs to the principal that registered it; another principal cannot see
// or use it (it is "not found" to them). What an authorisation allows and
// how a verification is checked against it: broker/verification/consent.hpp.
//
// An interface: the embedded backend is broker/store/sqlcipher/. Calls block
// on disk or network: call them off the I/O threads. Implementations are
// internally locked.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/date.hpp"
#include "common/records.hpp"
#include "common/result.hpp"

namespace hfv::broker {

struct StoredAuthorization {
  std::string id;
  std::string principal;
  std::string case_id;
  // The 6-digit division it was registered for; empty for one kept from
  // before authorisations named it (it then covers no verification).
  std::string jurisdiction;
  Date valid_from;
  Date valid_until;
  std::string form_sha256;
  bool all_categories = false;
  std::vector<Source> categories;
  std::set<std::string> member_pseudonyms;
  // The members' commitments (docs/cross-region.md "The authorisation
  // digest"): sorted hex SHA-256 of a per-member salt and the ID number,
  // opened only to a peer asked about that member. Empty for one
  // registered before peers existed (it cannot be used through a peer).
  std::vector<std::string> member_commitments;
  // The digest of the terms as registered (consent.hpp authorization_digest),
  // audited then and sent to peers as it was: terms altered in the store
  // afterwards no longer match it, and a peer refuses them.
  std::string digest;
  std::string created_at;
  std::string revoked_at;  // empty while in force

  bool allows(Source source) const;
};

// The categories as kept and shown: "all", or an array of source names.
nlohmann::json categories_json(const StoredAuthorization& authorization);

// The columns every backend keeps an authorisation in, as text: dates as
// YYYY-MM-DD, categories as categories_json(), members as a JSON array of
// pseudonyms (or, with commitments, {"pseudonyms": [...], "commitments":
// [...], "digest": "..."}), revoked_at and jurisdiction empty when absent.
struct AuthorizationColumns {
  std::string id, principal, case_id, valid_from, valid_until, form_sha256, categories, members,
      created_at, revoked_at, jurisdiction;
};
AuthorizationColumns authorization_columns(const StoredAuthorization& authorization);
// Back from the columns; "corrupt_state" when one cannot be read.
Result<StoredAuthorization> authorization_from_columns(const AuthorizationColumns& columns);

class AuthorizationStore {
 public:
  virtual ~AuthorizationStore() = default;
  // Stores a new authorisation (its id is new; revoked_at empty).
  virtual Status insert(const StoredAuthorization& authorization) = 0;
  // nullopt when there is no such authorisation for this principal.
  virtual Result<std::optional<StoredAuthorization>> find(const std::string& id,
                                                          const std::string& principal) = 0;
  // Marks it revoked (idempotent: the first revocation's time stays);
  // nullopt when not found for this principal.
  virtual Result<std::optional<StoredAuthorization>> revoke(const std::string& id,
                                                            const std::string& principal) = 0;
  // Retention (docs/operations.md): deletes the authorisations that ended
  // before `before` (YYYY-MM-DD): valid until an earlier day, or revoked
  // before it. Returns how many.
  virtual Result<std::int64_t> purge_ended_before(const std::string& before) = 0;
};

}  // namespace hfv::broker
