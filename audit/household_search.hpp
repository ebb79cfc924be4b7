// Household search: every access to a household's data in the audit log,
// one row per access, for supervisors (POST /v1/audit/household-search,
// docs/api.md).
//
// A household is found from one member's pseudonym or one case id and
// grown to a closure: every case a found member's records name, every
// member a found case's records name (verification.subject,
// refusal.subject, read.subject, agency.answers), until nothing new appears
// or a bound is reached. The records found are grouped into accesses: a
// verification's records (request, subjects, agency queries, report or
// cancellation) are one access; each read of a stored report (a
// verification.read and its read.subject records, appended together) is
// another; a refusal and its refusal.subject records one more; any other
// record is an access of its own. Records whose personal fields were
// erased by retention cannot be found by member or case.
//
// Pure logic over AuditLog::query: no clock, no state; thread-safe as the
// log's queries are.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "common/result.hpp"

namespace hfv::audit {

struct HouseholdSearch {
  std::string member;   // a member's pseudonym (never the ID number); or
  std::string case_id;  // a case id (one of the two is set)
  std::string from_ts, to_ts;  // from <= ts < to, as AuditQuery
  std::vector<std::string> jurisdiction_prefixes;  // as AuditQuery: the supervisor's scope
  bool unscoped_too = false;                       // as AuditQuery
  std::int64_t ignore_from_seq = 0;  // records at or after this seq are left out (0: none)
  std::size_t max_members = 200, max_cases = 100;
  std::size_t max_accesses = 1000;
};

// One access to the household: the records of one request.
struct HouseholdAccess {
  std::string ts;          // of its first record
  std::string action;      // of its first record: verification.request, request.refused, ...
  std::string kind;        // verification | refusal | report_read | access_log_read | audit_search | <action>
  std::string outcome;     // issued | refused | report_read | cancelled | accepted | recorded
  std::string reason;      // a refusal's status ("403 consent_not_found"); a read's replay name
  std::string result;      // a report's outcome (eligible | ineligible | indeterminate)
  std::string request_id;  // verification or refusal id
  std::string principal, operator_id, centre, programme, authorization_id, case_id, jurisdiction;
  std::vector<std::string> members;  // pseudonyms named by its records
  std::vector<std::int64_t> seqs;    // its records
};

struct HouseholdResult {
  std::vector<HouseholdAccess> accesses;  // newest first
  std::vector<std::string> members;       // the household's pseudonyms found
  std::vector<std::string> case_ids;      // its cases found
  bool truncated = false;                 // a bound was reached
};

Result<HouseholdResult> search_household(const AuditLog& log, const HouseholdSearch& search);

}  // namespace hfv::audit
