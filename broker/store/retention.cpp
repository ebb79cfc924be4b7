#include "broker/store/retention.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

#include "broker/ops/log.hpp"
#include "common/thread_name.hpp"

namespace hfv::broker {

namespace {

constexpr std::int64_t kDay = std::int64_t{24} * 3600;

// Output folders last changed before `before_unix`, erased; how many.
Result<std::int64_t> purge_outputs(const std::filesystem::path& root, std::int64_t before_unix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (root.empty() || !fs::is_directory(root, ec)) return std::int64_t{0};
  std::int64_t erased = 0;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec)) continue;
    const auto changed = fs::last_write_time(entry.path(), ec);
    if (ec) continue;
    const auto changed_unix =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::file_clock::to_sys(changed).time_since_epoch())
            .count();
    if (changed_unix >= before_unix) continue;
    fs::remove_all(entry.path(), ec);
    if (ec) return make_error("io_error", "cannot erase " + entry.path().string() + ": " + ec.message());
    ++erased;
  }
  if (ec) return make_error("io_error", "cannot read " + root.string() + ": " + ec.message());
  return erased;
}

// YYYY-MM-DD of a time (UTC).
std::string utc_day(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  (void)::gmtime_r(&t, &tm);
  char text[48];
  (void)std::snprintf(text, sizeof text, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return text;
}

}  // namespace

Result<RetentionPass> run_retention(ReportStore& reports, ReviewStore* reviews, audit::AuditLog& log,
                                    const RetentionPeriods& periods, std::int64_t now_unix,
                                    AuthorizationStore* authorizations) {
  RetentionPass pass;
  if (periods.reports_days > 0) {
    auto n = reports.purge_before(now_unix - periods.reports_days * kDay);
    if (!n) return n.error();
    pass.reports = *n;
    if (authorizations != nullptr) {
      auto ended = authorizations->purge_ended_before(utc_day(now_unix - periods.reports_days * kDay));
      if (!ended) return ended.error();
      pass.authorizations = *ended;
    }
  }
  if (reviews != nullptr && periods.reviews_days > 0) {
    auto n = reviews->purge_before(now_unix - periods.reviews_days * kDay);
    if (!n) return n.error();
    pass.reviews = *n;
    auto outputs = purge_outputs(periods.batch_outputs, now_unix - periods.reviews_days * kDay);
    if (!outputs) return outputs.error();
    pass.batch_outputs = *outputs;
  }
  if (pass.reports + pass.authorizations + pass.reviews.reviews + pass.reviews.batches + pass.batch_outputs > 0) {
    audit::AuditRecord r;
    r.action = "retention.purge";
    r.status = "ok";
    r.detail = "reports=" + std::to_string(pass.reports) + " reviews=" + std::to_string(pass.reviews.reviews) +
               " batches=" + std::to_string(pass.reviews.batches) +
               " batch_outputs=" + std::to_string(pass.batch_outputs) +
               " reports_days=" + std::to_string(periods.reports_days) +
               " reviews_days=" + std::to_string(periods.reviews_days);
    if (authorizations != nullptr) r.detail += " authorizations=" + std::to_string(pass.authorizations);
    std::vector<audit::AuditRecord> rows;
    rows.push_back(std::move(r));
    if (auto s = log.append_blocking(std::move(rows)); !s) return s.error();
  }
  return pass;
}

RetentionTimer::RetentionTimer(ReportStore& reports, ReviewStore* reviews, audit::AuditLog& log,
                               RetentionPeriods periods, AuthorizationStore* authorizations) {
  thread_ = std::thread([this, &reports, reviews, &log, periods = std::move(periods), authorizations] {
    name_this_thread("hfv-retention");
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      auto pass = run_retention(reports, reviews, log, periods, now, authorizations);
      if (!pass) {
        log_event(LogLevel::kError, "retention_failed", {{"reason", pass.error().message}});
      } else if (pass->reports + pass->authorizations + pass->reviews.reviews + pass->reviews.batches +
                     pass->batch_outputs >
                 0) {
        log_event(LogLevel::kInfo, "retention_purged",
                  {{"reports", std::to_string(pass->reports)},
                   {"authorizations", std::to_string(pass->authorizations)},
                   {"reviews", std::to_string(pass->reviews.reviews)},
                   {"batches", std::to_string(pass->reviews.batches)},
                   {"batch_outputs", std::to_string(pass->batch_outputs)}});
      }
      lock.lock();
      wake_.wait_for(lock, std::chrono::hours(1), [this] { return stopping_; });
    }
  });
}

RetentionTimer::~RetentionTimer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace hfv::broker
