#include "broker/store/review_store.hpp"

#include <nlohmann/json.hpp>

namespace hfv::broker {

using nlohmann::json;

Result<SettledReviews> settle_pending_reviews(ReviewStore& reviews, const audit::AuditLog& audit) {
  auto pending = reviews.pending();
  if (!pending) return pending.error();
  SettledReviews settled;
  for (const auto& r : *pending) {
    // The report of this verification, if it was issued, is audited under
    // the household's case id.
    audit::AuditQuery q;
    q.case_id = r.case_id;
    q.action = "verification.report";
    q.limit = 1000;
    bool issued = false;
    auto scanned = audit.scan(q, [&](const audit::StoredRecord& row) {
      const json body = json::parse(row.body, nullptr, false);
      issued = body.is_object() && body.value("request_id", "") == r.verification_id &&
               body.value("status", "") == "issued";
      return !issued;
    });
    if (!scanned) return scanned.error();
    auto s =
        issued ? reviews.mark_issued(r.verification_id) : reviews.drop_pending(r.verification_id);
    if (!s) return s.error();
    ++(issued ? settled.issued : settled.dropped);
  }
  return settled;
}

}  // namespace hfv::broker
