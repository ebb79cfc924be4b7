#include "simulator/router.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "simulator/agency.hpp"

namespace hfv::sim {

namespace {

// Distinct paths counted one by one; beyond this they are counted as "(other)".
constexpr std::size_t kMaxCountedPaths = 1000;
// Distinct (source, person) pairs remembered for the draws; then forgotten
// (a benchmark asking about millions of made-up persons must not grow us).
constexpr std::size_t kMaxRemembered = 100'000;

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
    decision.reply = control(request, path);
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
  FaultDecision fate = dataset_.faults().decide(agency->name, answer.person, nonce(agency->name, answer.person));
  FaultKind fault = fate.kind;
  if (fault == FaultKind::kStuckOnce) {  // held the first time, answered after that
    if (stuck_.size() >= kMaxRemembered) stuck_.clear();
    const bool first_time = stuck_.insert(std::string(agency->name) + "|" + answer.person).second;
    fault = first_time ? FaultKind::kStuckOnce : FaultKind::kNone;
  }
  FaultOutcome outcome = apply_fault(fault, std::move(answer.reply), fate.retry_after);
  decision.action = outcome.action;
  decision.reply = std::move(outcome.reply);
  decision.delay = fate.latency;
  decision.body_time = fate.slow_body;
  const std::string agency_name(agency->name);
  const std::uint64_t now_in_flight = ++in_flight_[agency_name];
  auto& peak = max_in_flight_[agency_name];
  peak = std::max(peak, now_in_flight);
  decision.record =
      RequestRecord{std::string(agency->name), std::string(path), std::move(answer.person),
                    outcome.action == Action::kAnswer || outcome.action == Action::kSlowBody
                        ? decision.reply.status
                        : 0,
                    std::string(fault_name(fault))};
  return decision;
}

void Router::finished(std::string_view agency) {
  const auto it = in_flight_.find(agency);
  if (it != in_flight_.end() && it->second > 0) --it->second;
}

std::uint64_t Router::nonce(std::string_view agency, std::string_view person) {
  std::uint64_t n = 0;
  if (dataset_.faults().random()) {
    if (asked_.size() >= kMaxRemembered) asked_.clear();
    std::string key(agency);
    key += '|';
    key += person;
    n = asked_[key]++;
  }
  return mix64(seed_ ^ mix64(fnv1a(person, fnv1a(agency)) ^ mix64(n)));
}

Reply Router::set_faults(std::string_view body) {
  const Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return json_reply(400, Json{{"error", "body must be a JSON object: source -> faults or null"}});
  }
  std::vector<std::pair<std::string, std::optional<SourceFaults>>> changes;
  try {
    for (const auto& [source, spec] : doc.items()) {
      if (!is_known_source(source)) throw DatasetError("unknown source");
      changes.emplace_back(source, spec.is_null() ? std::nullopt
                                                  : std::optional(parse_source_faults(spec, source)));
    }
  } catch (const DatasetError& e) {
    return json_reply(400, Json{{"error", e.what()}});
  }
  for (auto& [source, faults] : changes) {
    dataset_.faults().set(source, faults.value_or(SourceFaults{}));
  }
  return json_reply(200, Json{{"status", "ok"}});
}

// {"id_number", "source", "records"}: a test corrects one agency's record
// of one person (an appeal's premise: the agency's data was wrong).
Reply Router::set_records(std::string_view body) {
  const Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("id_number") || !doc["id_number"].is_string() ||
      !doc.contains("source") || !doc["source"].is_string() || !doc.contains("records")) {
    return json_reply(400, Json{{"error", "body must be {\"id_number\", \"source\", \"records\"}"}});
  }
  try {
    dataset_.set_records(doc["id_number"].get<std::string>(), doc["source"].get<std::string>(), doc["records"]);
  } catch (const DatasetError& e) {
    return json_reply(400, Json{{"error", e.what()}});
  }
  return json_reply(200, Json{{"status", "ok"}});
}

Reply Router::control(const HttpRequestView& request, std::string_view path) {
  const std::string_view method = request.method;
  if (path == "/_sim/faults") {
    if (method != "POST") return method_not_allowed("POST");
    return set_faults(request.body);
  }
  if (path == "/_sim/records") {
    if (method != "POST") return method_not_allowed("POST");
    return set_records(request.body);
  }
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
  Json in_flight = Json::object();
  for (const auto& [name, n] : in_flight_) in_flight[name] = n;
  Json peaks = Json::object();
  for (const auto& [name, n] : max_in_flight_) peaks[name] = n;
  return Json{{"total", total_},
              {"by_agency", std::move(by_agency)},
              {"by_path", std::move(by_path)},
              {"unrouted", unrouted_},
              {"in_flight", std::move(in_flight)},
              {"max_in_flight", std::move(peaks)}};
}

void Router::reset_counts() {
  total_ = 0;
  unrouted_ = 0;
  by_path_.clear();
  by_agency_.clear();
  for (const Agency& a : agencies()) {
    by_agency_[std::string(a.name)] = 0;
    in_flight_.try_emplace(std::string(a.name), 0);
    max_in_flight_[std::string(a.name)] = in_flight_[std::string(a.name)];
  }
}

}  // namespace hfv::sim
