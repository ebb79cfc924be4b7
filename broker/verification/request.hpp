// Parsing and validation of API request bodies. Pure functions, no I/O: a
// body either becomes a typed request or a FieldError naming the field and
// the reason. Unknown fields are refused (a typo must not be silently
// ignored). Error texts never repeat the submitted values, which may be
// personal data. Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/date.hpp"
#include "common/records.hpp"
#include "policies/engine.hpp"
#include "policies/policy.hpp"

namespace hfv::broker {

struct FieldError {
  std::string code;     // "invalid_field", "invalid_json", ...
  std::string field;    // JSON path, e.g. "members[1].id_number"; empty for the whole body
  std::string message;  // reason; never the submitted value
};

template <class T>
using Parsed = std::variant<T, FieldError>;

inline constexpr std::size_t kMaxJsonDepth = 16;
inline constexpr std::size_t kMaxMembers = 30;
inline constexpr std::size_t kMaxObligors = 10;
inline constexpr std::size_t kMaxRigidSpending = 20;

// Parses JSON with a nesting-depth limit; FieldError "invalid_json" or
// "too_deep" otherwise.
Parsed<nlohmann::json> parse_json_body(std::string_view body);

struct Member {
  std::string id_number;
  std::string name;
  std::string relation;
  std::optional<int> disability_grade;  // 1-4
  std::string disability_kind;
  bool serious_illness = false;
  bool employed = false;
  std::string labour_capacity;  // full | partial | none | "" (not given)
  // 残疾军人 grade 1-10, and 定期抚恤补助的重点优抚对象 (policies::MemberFacts).
  std::optional<int> disabled_serviceman_grade;
  bool entitled_group_pension = false;
};

struct VerificationRequest {
  std::string case_id;
  std::string programme;  // a programme_name (policies/engine.hpp), kept as the wire word
  std::string jurisdiction;
  policies::Area area = policies::Area::kUrban;
  Date reference_date;
  std::string authorization_id;
  std::vector<Member> members;
  // `current_benefit`: the household receives dibao now (a review); the
  // gradual-exit rule reads it. `since` is not after reference_date;
  // `gradual_exit_until`, when given, is not before `since`.
  // `monthly_amount` (decimal yuan, > 0) and `amount_set_on` (not after
  // reference_date, not before `since`) come together or not at all.
  std::optional<policies::CurrentBenefit> current_benefit;
  // `obligors`: the statutory supporters' households as the case system
  // declares them (figures, not ID numbers: the household's authorisation
  // does not cover its relatives' data). nullopt: not declared; empty: none.
  std::optional<std::vector<policies::ObligorHousehold>> obligors;
  // `rigid_spending`: required for programme expenditure and refused with
  // any other; 1-20 entries {kind, amount, period, evidence_sha256}.
  std::vector<policies::RigidSpending> rigid_spending;
  // `emergency`: required for programme emergency and refused with any
  // other; {cause, event_date (not after reference_date), evidence_sha256}.
  std::optional<policies::Emergency> emergency;
  bool async = false;  // answer 202 at once; the report is fetched with GET
  bool force = false;  // verify again even if a recent report of this household exists
};

Parsed<VerificationRequest> parse_verification_request(const nlohmann::json& body, const Date& today);

struct AuthorizationRequest {
  std::string case_id;
  std::string jurisdiction;  // 6 digits; whether a known division the caller covers: the service checks
  std::vector<std::string> members;  // ID numbers
  bool all_categories = false;
  std::vector<Source> categories;
  Date valid_from;
  Date valid_until;
  std::string form_sha256;
};

Parsed<AuthorizationRequest> parse_authorization_request(const nlohmann::json& body, const Date& today);

// POST /v1/verifications/{id}/appeals (docs/api.md): the disputed member x
// source pairs, each disputed member named again (the archive keeps no ID
// number or name: the verifier checks it is the person the original
// verification read), the citizen's evidence and a short reason.
struct AppealMember {
  std::size_t member_index = 0;  // in the original request's members
  std::string id_number;
  std::string name;
  std::vector<Source> sources;  // 1-11, distinct
};
struct AppealRequest {
  std::vector<AppealMember> disputed;         // 1-30, distinct member_index
  std::vector<std::string> evidence_sha256;   // 1-20, 64 lowercase hex each
  std::string reason;                         // 1-200 characters, no unsafe character
};
inline constexpr std::size_t kMaxAppealEvidence = 20;
inline constexpr std::size_t kMaxAppealReason = 200;  // code points

// FieldError codes: invalid_field (shape), invalid_pair (a source name
// that is not a data source; whether a pair can be appealed is the
// verifier's check).
Parsed<AppealRequest> parse_appeal_request(const nlohmann::json& body, const Date& today);

// POST /v1/peer/queries (docs/cross-region.md "What a peer is asked"): a
// broker of another centre asks this one about members registered here,
// for a verification it runs (`request_id`), under the household's
// authorisation as the origin registered it (its terms, the members'
// commitments and their digest; consent.hpp authorization_digest).
struct PeerAuthorization {
  std::string authorization_id;
  std::string case_id;
  std::string jurisdiction;  // 6 digits
  bool all_categories = false;
  std::vector<Source> categories;
  Date valid_from;
  Date valid_until;
  std::string form_sha256;
  std::vector<std::string> member_commitments;  // 1-30, 64 lowercase hex each, sorted, distinct
  std::string digest;                           // 64 lowercase hex
};
struct PeerMember {
  std::size_t member_index = 0;  // in the origin's request
  std::string id_number;
  std::string name;
  std::string salt;      // 64 lowercase hex: opens the member's commitment
  std::string division;  // where the origin found the member registered (6 digits)
  std::vector<Source> sources;  // 1-11, distinct
};
struct PeerQuery {
  std::string request_id;     // the origin's verification id (a token)
  std::string origin_centre;  // 1-32 of a-z 0-9 _ -
  std::string operator_id;    // the origin's X-Operator-Id (a token)
  std::string purpose;        // dibao | marginal | tekun | temporary
  std::string case_id;
  std::string jurisdiction;  // the household's, 6 digits
  Date reference_date;
  long deadline_ms = 0;  // 1-600000: the peer answers within it
  PeerAuthorization authorization;
  std::vector<PeerMember> members;  // 1-30, distinct member_index and ID number
};
// FieldError codes: invalid_field (shape), as for the other requests.
Parsed<PeerQuery> parse_peer_query(const nlohmann::json& body, const Date& today);
// The body the origin sends: parse_peer_query reads it back as it was.
nlohmann::json peer_query_json(const PeerQuery& query);

// True if `s` is a valid "case id / authorization id" token: 1-64 characters
// of [A-Za-z0-9._:-].
bool is_token(std::string_view s);

// Why a text field's value (valid UTF-8) is refused, or nothing: control
// characters (C0, DEL, C1: a NUL ends a C string downstream, others garble
// logs, CSV and agency queries), line and paragraph separators,
// bidirectional formatting characters and U+FEFF (they make a name read
// differently from what it is). Every string in a request body is checked.
std::optional<std::string> text_problem(std::string_view s);

}  // namespace hfv::broker
