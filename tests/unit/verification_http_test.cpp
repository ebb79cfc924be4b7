// The verifier's outcomes as HTTP answers (broker/api/verification_http.cpp):
// whatever store or log failed, an unavailable broker answers 503 with
// Retry-After and a code word saying which (a database in failover, a full
// disk), never 500; only a stored answer that cannot be read is a 500.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "broker/api/verification_http.hpp"

namespace b = hfv::broker;

namespace {
bool has_retry_after(const b::ApiResponse& r) {
  return std::any_of(r.headers.begin(), r.headers.end(),
                     [](const auto& h) { return h.first == "Retry-After"; });
}
}  // namespace

TEST_CASE("unit: an unavailable audit log or state store is 503 with Retry-After and its code word",
          "[api][outcome]") {
  for (const auto& [what, code] : {std::pair{b::Unavailable::kState, "state_unavailable"},
                                   std::pair{b::Unavailable::kAudit, "audit_unavailable"}}) {
    INFO(code);
    const auto before = b::http_answer(b::Outcome::unavailable_because(what, "cannot be read now"));
    CHECK(before.status == 503);
    CHECK(before.body["error"] == code);
    CHECK(has_retry_after(before));
    // After the verification was accepted (it has an id): the same, with the id.
    const auto after = b::http_answer(
        b::Outcome::unavailable_because(what, "the report could not be stored", "ver_1"));
    CHECK(after.status == 503);
    CHECK(has_retry_after(after));
    CHECK(std::count(after.headers.begin(), after.headers.end(),
                     std::pair<std::string, std::string>{"X-HFV-Verification-Id", "ver_1"}) == 1);
  }
  b::Outcome interrupted;
  interrupted.kind = b::Outcome::Kind::kInterrupted;
  const auto restarted = b::http_answer(interrupted);
  CHECK(restarted.status == 503);
  CHECK(has_retry_after(restarted));
  // A stored answer that is unreadable is the broker's own fault: 500, no Retry-After.
  const auto broken = b::http_answer(
      b::Outcome::unavailable_because(b::Unavailable::kInternal, "unreadable", "ver_2"));
  CHECK(broken.status == 500);
  CHECK_FALSE(has_retry_after(broken));
}
