// WriteGroup: one SQLCipher database's small writes, committed together.
// Each commit of an SqlcipherDb is fsync'd and rewrites the partly filled
// last pages of every table and index it touched; a batch's households each
// wrote their rows in transactions of their own (four per household across
// the state and review databases, docs/performance.md). A WriteGroup runs
// queued jobs on a thread of its own, several in one BEGIN IMMEDIATE …
// COMMIT, each inside a SAVEPOINT so that a job that fails is rolled back
// alone and the others still commit.
//
// A job's `done` is called once, on the group's thread, after the COMMIT
// (the job's writes are durable then) or with the job's error. When the
// transaction itself fails (BEGIN, a savepoint, COMMIT), every job of that
// group gets the error and none of their writes is kept.
//
// `may_wait`: how long a job may be held back for others to share its
// transaction (nobody waits on it in person: a batch's household); zero
// commits as soon as the thread is free, with whatever else is queued then.
// A group is written once its first job is due or `kEnoughJobs` are queued.
//
// Threading: submit() from any thread. The jobs run on the group's thread
// with `db_mutex` held for the whole transaction: the owner's other calls
// on the same connection take the same mutex. The destructor writes what is
// queued and stops the thread; destroy the group before the database.
// A `done` must not call drain() or destroy the group.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/blocking_call.hpp"
#include "common/result.hpp"

namespace hfv::storage {

class SqlcipherDb;

class WriteGroup {
 public:
  using Job = std::function<Status()>;
  using Done = std::function<void(Status)>;

  // `thread_name`: at most 15 characters (shown by top -H and perf).
  WriteGroup(SqlcipherDb& db, std::mutex& db_mutex, std::string thread_name);
  ~WriteGroup();
  WriteGroup(const WriteGroup&) = delete;
  WriteGroup& operator=(const WriteGroup&) = delete;

  void submit(Job job, std::chrono::milliseconds may_wait, Done done);
  // submit() for a coroutine: `at.may_wait` as above, the job's status
  // delivered on `at.executor` (`at.pool` is not used: the job runs here).
  BlockingCall<Status> start(const WriteStart& at, Job job);
  // Returns once every job submitted before has been written and its `done`
  // has returned (e.g. before the executor those callbacks post to is
  // destroyed). Queued jobs are written now, not at their due time.
  void drain();

  // Transactions committed (or failed) so far: a group of several jobs counts once.
  std::size_t transactions() const;

  static constexpr std::size_t kEnoughJobs = 64;

 private:
  struct Queued {
    Job job;
    Done done;
  };
  void run();
  void write(std::vector<Queued>& group);

  SqlcipherDb& db_;
  std::mutex& db_mutex_;
  std::string thread_name_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  std::chrono::steady_clock::time_point earliest_{};  // when the first queued job is due
  std::condition_variable idle_;  // drain(): the queue is empty and nothing is being written
  std::size_t transactions_ = 0;
  std::size_t draining_ = 0;  // callers inside drain(): write at once
  bool writing_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace hfv::storage
