// The broker's endpoints in one table: method, path pattern, who may call,
// whether a case system must name its operator, and the handler. It is the
// only place that says who may call what; docs/api.md "Who may call what"
// shows the same table and a test (tests/unit/routes_test.cpp) holds the two
// together.
//
// Service::route() checks a request against it in the order docs/api.md
// states: the path (404, not audited), the caller's role (403, audited), the
// operator header for case systems where the row asks for it (400, audited),
// then the method (405). Handlers check what only they can (an id's form,
// the body); they never check roles.
//
// Patterns: literal segments, "{name}" for one non-empty segment, and a
// final "*" for the rest of the path (possibly empty).
//
// Thread-safety: the table is a constant.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/ops/config.hpp"

namespace hfv::broker {

class Service;
struct ApiRequest;
struct ApiResponse;

// Who may call: a set of roles, or anyone at all (no certificate needed).
class Callers {
 public:
  static constexpr Callers anyone() { return Callers(0, true); }
  static constexpr Callers any_principal() {
    return Callers(bit(Role::kCaseSystem) | bit(Role::kSupervisor) | bit(Role::kAdmin), false);
  }
  template <class... R>
  static constexpr Callers only(R... roles) {
    return Callers((bit(roles) | ...), false);
  }
  constexpr bool without_certificate() const { return open_; }
  constexpr bool allows(Role role) const { return open_ || (mask_ & bit(role)) != 0; }
  constexpr bool operator==(const Callers&) const = default;
  // "case_system, supervisor" in Role order; "anyone" for an open route.
  std::string names() const;

 private:
  constexpr Callers(unsigned mask, bool open) : mask_(mask), open_(open) {}
  static constexpr unsigned bit(Role role) { return 1U << static_cast<unsigned>(role); }
  unsigned mask_;
  bool open_;
};

// What a handler is given: the request, its authenticated caller (null only
// on open routes) and the path without its query string.
struct RouteCall {
  const ApiRequest& request;
  const Principal* principal;
  const std::string& path;
};

struct Route {
  using Handler = boost::asio::awaitable<ApiResponse> (Service::*)(const RouteCall&);
  std::string_view method;
  std::string_view pattern;
  Callers callers;
  bool operator_id;  // a case system must send X-Operator-Id (audited as the operator)
  Handler handler;
};

// Every endpoint, in the order docs/api.md lists them.
std::span<const Route> route_table();

// True when `path` (no query string) matches `pattern`.
bool route_matches(std::string_view pattern, std::string_view path);

// Whether a request for `route` may carry a body of `content_type` (the
// Content-Type header as sent; empty when absent). GET needs none. POST and
// DELETE must declare JSON (a batch may also be NDJSON): a web page can make
// a supervisor's browser send text/plain or a form cross-site with the
// browser's client certificate and no CORS preflight, but never these types.
// Parameters such as "; charset=utf-8" are allowed; the type is compared
// without regard to case.
bool body_type_allowed(const Route& route, std::string_view content_type);

// The pattern of the route `path` (no query string) matches, "other" when
// none does: what logs and metrics name an endpoint by (raw paths carry ids).
std::string_view endpoint_of(std::string_view path);

}  // namespace hfv::broker
