// Agency: the small interface each simulated agency implements, one file per
// agency under simulator/agencies/. An agency has a name (also its dataset
// source key and the first segment of its URL paths: "/bank/..."), checks
// its own records when the dataset is loaded, and answers requests in its
// own wire shape. Answer functions are pure: no sockets, clocks or globals,
// so they are unit-tested directly. Faults, latency, counting and logging
// are applied around them by the Router.
//
// Ownership: Agency values are static descriptors returned by agencies().
// Thread-safety: the functions are pure; the registry is immutable.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "simulator/dataset.hpp"
#include "simulator/reply.hpp"

namespace hfv::sim {

// One request as the agency sees it. `path` has no query string.
struct AgencyRequest {
  std::string_view method;        // "POST"
  std::string_view path;          // "/bank/v2/deposit-inquiry"
  std::string_view content_type;  // the header's value, "" if absent
  std::string_view body;
};

struct AgencyAnswer {
  Reply reply;
  // The ID number the request asked about, when it named one (used for
  // per-person faults and, hashed, for the request log). May be any string
  // the caller sent; never logged raw.
  std::string person;
};

struct Agency {
  std::string_view name;
  // The first URL path segment this agency answers under ("bank" for
  // "/bank/v2/deposit-inquiry", "csdc" for the securities depository).
  std::string_view path_segment;
  // Checks one person's records for this source. Returns nullopt when they
  // are fine, else a message that starts with the path below the records:
  // "[1].balance: must be ..." or ": must be an array". The loader prefixes
  // the person and source. Must not quote ID numbers.
  std::optional<std::string> (*validate)(const Json& records);
  AgencyAnswer (*answer)(const Dataset& dataset, const AgencyRequest& request);
};

// Every implemented agency.
std::span<const Agency> agencies();
// The agency named `name`, or nullptr.
const Agency* find_agency(std::string_view name);
// The agency answering under the first path segment `segment`, or nullptr.
const Agency* find_agency_by_path(std::string_view segment);

}  // namespace hfv::sim
