#include "storage/write_group.hpp"

#include <algorithm>
#include <exception>
#include <vector>

#include "common/thread_name.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::storage {

WriteGroup::WriteGroup(SqlcipherDb& db, std::mutex& db_mutex, std::string thread_name)
    : db_(db), db_mutex_(db_mutex), thread_name_(std::move(thread_name)), thread_([this] { run(); }) {}

WriteGroup::~WriteGroup() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WriteGroup::submit(Job job, std::chrono::milliseconds may_wait, Done done) {
  const auto due = std::chrono::steady_clock::now() + may_wait;
  std::unique_lock lock(mutex_);
  if (stopping_) {
    // The destructor has begun: nothing will run it.
    lock.unlock();
    done(make_error("io_error", "the database is closing"));
    return;
  }
  // The thread sleeps until the earliest due job: it is woken only when
  // this one is due sooner, or the queue is full enough to write now.
  const bool wake = queue_.empty() || due < earliest_ || queue_.size() + 1 >= kEnoughJobs;
  earliest_ = queue_.empty() ? due : std::min(earliest_, due);
  queue_.push_back(Queued{std::move(job), std::move(done)});
  lock.unlock();
  if (wake) wake_.notify_one();
}

BlockingCall<Status> WriteGroup::start(const WriteStart& at, Job job) {
  return start_completed_elsewhere<Status>(
      at.executor, [&](auto deliver) { submit(std::move(job), at.may_wait, std::move(deliver)); });
}

void WriteGroup::drain() {
  std::unique_lock lock(mutex_);
  ++draining_;
  wake_.notify_one();
  idle_.wait(lock, [this] { return queue_.empty() && !writing_; });
  --draining_;
}

std::size_t WriteGroup::transactions() const {
  std::lock_guard lock(mutex_);
  return transactions_;
}

void WriteGroup::run() {
  name_this_thread(thread_name_.c_str());
  std::unique_lock lock(mutex_);
  for (;;) {
    if (queue_.empty()) {
      idle_.notify_all();
      if (stopping_) return;
      wake_.wait(lock);
      continue;
    }
    if (!stopping_ && draining_ == 0 && queue_.size() < kEnoughJobs &&
        std::chrono::steady_clock::now() < earliest_) {
      wake_.wait_until(lock, earliest_);
      continue;
    }
    std::vector<Queued> group;
    const std::size_t n = std::min(queue_.size(), kEnoughJobs);
    group.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    // More than a group's worth was queued: the rest goes next, at once.
    if (!queue_.empty()) earliest_ = std::chrono::steady_clock::now();
    writing_ = true;
    lock.unlock();
    write(group);
    lock.lock();
    writing_ = false;
  }
}

void WriteGroup::write(std::vector<Queued>& group) {
  std::vector<Status> results(group.size());
  Status whole;
  {
    std::lock_guard lock(db_mutex_);
    whole = db_.run("BEGIN IMMEDIATE;", {});
    for (std::size_t i = 0; i < group.size() && whole; ++i) {
      whole = db_.run("SAVEPOINT job;", {});
      if (!whole) break;
      try {
        results[i] = group[i].job();
      } catch (const std::exception& e) {
        results[i] = make_error("io_error", std::string("a write failed: ") + e.what());
      }
      // A failed job's writes are undone alone. When SQLite rolled the whole
      // transaction back itself (a full disk, an I/O error), the savepoint
      // is gone and the group fails below.
      if (!results[i]) whole = db_.exec("ROLLBACK TO job;");
      if (whole) whole = db_.run("RELEASE job;", {});
    }
    if (whole) whole = db_.run("COMMIT;", {});
    if (!whole) (void)db_.exec("ROLLBACK;");
  }
  {
    std::lock_guard lock(mutex_);
    ++transactions_;  // counted before anyone is told
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    group[i].done(!results[i] ? results[i] : whole);
  }
}

}  // namespace hfv::storage
