#include "simulator/router.hpp"

#include <utility>

#include "simulator/agency.hpp"

namespace hfv::sim {

namespace {

// Distinct paths counted one by one; beyond this they are counted as "(other)".
constexpr std::size_t kMaxCountedPaths = 1000;

Reply json_reply(int status, const Json& body) {
  Reply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

Reply no_such_service() {
  return json_reply(404, Json{{"retCode", "9004"}, {"retMsg", "NO SUCH SERVICE"}});
}

Reply method_not_allowed(const char* allowed) {
  Reply r = json_reply(405, Json{{"retCode", "9005"}, {"retMsg", "METHOD NOT ALLOWED"}});
  r.headers = {{"Allow", allowed}};
  return r;
}

}  // namespace

Router::Router(Dataset dataset, std::uint64_t seed) : dataset_(std::move(dataset)), seed_(seed) {
  reset_counts();
}

Decision Router::route(const HttpRequestView& request) {
  Decision decision;
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  if (path.starts_with("/_sim/")) {
    decision.reply = control(request.method, path);
    return decision;
  }
  // "/bank/v2/deposit-inquiry" -> "bank"; "/csdc/v1/..." -> securities
  std::string_view first = path.starts_with('/') ? path.substr(1) : std::string_view{};
  first = first.substr(0, first.find('/'));
  const Agency* agency = first.empty() ? nullptr : find_agency_by_path(first);
  if (agency == nullptr) {
    ++unrouted_;
    decision.reply = no_such_service();
    return decision;
  }
  count(agency->name, path);
  AgencyAnswer answer = agency->answer(
      dataset_, AgencyRequest{request.method, path, request.content_type, request.body});
  const FaultKind fault = dataset_.faults().lookup(agency->name, answer.person);
  FaultOutcome outcome = apply_fault(fault, std::move(answer.reply));
  decision.action = outcome.action;
  decision.reply = std::move(outcome.reply);
  decision.delay = dataset_.faults().latency(agency->name);
  decision.record =
      RequestRecord{std::string(agency->name), std::string(path), std::move(answer.person),
                    outcome.action == Action::kAnswer ? decision.reply.status : 0,
                    std::string(fault_name(fault))};
  return decision;
}

Reply Router::control(std::string_view method, std::string_view path) {
  if (path == "/_sim/health") {
    if (method != "GET") return method_not_allowed("GET");
    return json_reply(200, Json{{"status", "ok"}});
  }
  if (path == "/_sim/requests") {
    if (method != "GET") return method_not_allowed("GET");
    return json_reply(200, counts());
  }
  if (path == "/_sim/reset-requests") {
    if (method != "POST") return method_not_allowed("POST");
    reset_counts();
    return json_reply(200, Json{{"status", "ok"}});
  }
  return no_such_service();
}

void Router::count(std::string_view agency, std::string_view path) {
  ++total_;
  ++by_agency_[std::string(agency)];
  if (auto it = by_path_.find(path); it != by_path_.end()) {
    ++it->second;
  } else if (by_path_.size() < kMaxCountedPaths) {
    by_path_.emplace(std::string(path), 1);
  } else {
    ++by_path_["(other)"];
  }
}

Json Router::counts() const {
  Json by_agency = Json::object();
  for (const auto& [name, n] : by_agency_) by_agency[name] = n;
  Json by_path = Json::object();
  for (const auto& [p, n] : by_path_) by_path[p] = n;
  return Json{{"total", total_},
              {"by_agency", std::move(by_agency)},
              {"by_path", std::move(by_path)},
              {"unrouted", unrouted_}};
}

void Router::reset_counts() {
  total_ = 0;
  unrouted_ = 0;
  by_path_.clear();
  by_agency_.clear();
  for (const Agency& a : agencies()) by_agency_[std::string(a.name)] = 0;
}

}  // namespace hfv::sim
