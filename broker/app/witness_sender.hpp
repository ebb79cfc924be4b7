// WitnessSender: sends the latest signed head of the audit log (at most one
// round every few seconds, and the last one when it stops), as a C2SP
// checkpoint (audit/checkpoint.hpp) with a consistency proof from the size
// the witness saw last, to every witness of "audit.witnesses"
// (c2sp.org/tlog-witness add-checkpoint), and keeps the cosigned checkpoint
// each returns in `<anchor>.cosigned` (format hfv-audit-cosigned/v1,
// docs/audit-log-format.md), which `brokerctl audit verify` checks. On the
// postgresql backend (`cosigned_conninfo` set) each is also kept in the
// cluster's table audit_cosigned (broker/store/postgresql/cosigned_store.hpp),
// which every node and `brokerctl audit verify` on any node read; before
// each round the sender takes from it the sizes the witnesses cosigned for
// other nodes, so its consistency proofs start there (a head older than
// another node's cosigned one is stale, as below, not refused). The table
// unreachable, the file is still kept and the sender goes on (logged).
//
// A witness that refuses a head as inconsistent (the log was rolled back
// or replaced: it saw a bigger tree, or another key) is the alarm this
// exists for: logged as the error event `audit_witness_refused` and counted
// in hfv_witness_cosign_total{witness,result="refused"}. A 409 (the
// witness saw another size) is retried from the size it names. An
// unreachable witness is counted (result="error") and retried a few
// seconds later; nothing else waits for it.
//
// Threading: one thread of its own makes the blocking HTTP calls; the
// audit writer thread only hands it the latest head (head_signed), so
// appends never wait for a witness. start() after the log is open; the
// thread reads the log (checkpoint notes, consistency proofs) until stop(),
// which WitnessSenderRun calls before the log closes. The PostgreSQL
// connection is the sender thread's (opened in start(), before it runs).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/tree_head.hpp"
#include "broker/ops/config.hpp"
#include "broker/ops/metrics.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker {

class WitnessSender {
 public:
  // `cosigned_conninfo`: the cluster's database (postgresql backend), or
  // empty (the file only).
  WitnessSender(std::vector<AuditWitness> witnesses, std::filesystem::path cosigned_file,
                Metrics* metrics, std::string cosigned_conninfo = {});
  ~WitnessSender();
  WitnessSender(const WitnessSender&) = delete;
  WitnessSender& operator=(const WitnessSender&) = delete;

  // The audit log's on_head: remembers the head and wakes the sender. Any
  // thread; never blocks on the network.
  void head_signed(const audit::SignedTreeHead& head);
  // Starts the thread, with the checkpoints' origin line.
  void start(const audit::AuditLog& log, std::string origin);
  // Sends the latest head once more if it was not yet sent, then stops the
  // thread. Idempotent.
  void stop();

 private:
  enum class Sent { kCosigned, kRefused, kError, kStale };  // kStale: a later head was cosigned
  void run();
  Sent send(const AuditWitness& witness, const audit::SignedTreeHead& head, const std::string& note);
  void refused(const AuditWitness& witness, const audit::SignedTreeHead& head, long status,
               std::uint64_t witness_size, const std::string& reason);
  // Takes the table's bigger sizes (postgresql backend; no-op otherwise).
  void read_table();
  // The table's connection, (re)connected when needed; null: unreachable.
  storage::PostgresqlDb* table();

  const std::vector<AuditWitness> witnesses_;
  const std::filesystem::path cosigned_file_;
  Metrics* const metrics_;
  const std::string cosigned_conninfo_;
  const audit::AuditLog* log_ = nullptr;  // set by start()
  std::string origin_;

  // The sender thread's own.
  audit::CosignedFile cosigned_;
  std::map<std::string, std::uint64_t> witness_size_;  // what each witness last cosigned
  std::map<std::string, std::uint64_t> attempted_;     // the head size last tried, per witness
  std::map<std::string, bool> failed_;                 // that try failed to reach it
  std::unique_ptr<storage::PostgresqlDb> table_;       // postgresql backend: audit_cosigned

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<audit::SignedTreeHead> latest_;
  std::uint64_t heads_ = 0;  // counts head_signed calls
  bool stopping_ = false;
  std::thread thread_;
};

// Starts `sender` on `log` and stops it when it goes out of scope: declare
// it after the log, so the sender has stopped before the log closes.
class WitnessSenderRun {
 public:
  WitnessSenderRun(WitnessSender& sender, const audit::AuditLog& log, std::string origin)
      : sender_(sender) {
    sender_.start(log, std::move(origin));
  }
  ~WitnessSenderRun() { sender_.stop(); }
  WitnessSenderRun(const WitnessSenderRun&) = delete;
  WitnessSenderRun& operator=(const WitnessSenderRun&) = delete;

 private:
  WitnessSender& sender_;
};

}  // namespace hfv::broker
