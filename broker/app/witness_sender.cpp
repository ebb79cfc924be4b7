// WitnessSender (witness_sender.hpp): the sender thread and one
// add-checkpoint exchange per witness and head.
#include "broker/app/witness_sender.hpp"

#include "audit/checkpoint.hpp"
#include "broker/cli/witness_check.hpp"
#include "broker/ops/log.hpp"
#include "broker/store/postgresql/cosigned_store.hpp"
#include "common/thread_name.hpp"

namespace hfv::broker {

namespace {

// Between two rounds of sending (a retry of an unreachable witness
// included): each round reads the log's leaf hashes for its consistency
// proofs, so heads signed every second are not each sent; the latest is.
constexpr auto kMinInterval = std::chrono::seconds(3);
constexpr long kWitnessTimeoutSeconds = 5;
constexpr int kMaxConflicts = 3;  // conflicts followed in one exchange

}  // namespace

WitnessSender::WitnessSender(std::vector<AuditWitness> witnesses, std::filesystem::path cosigned_file,
                             Metrics* metrics, std::string cosigned_conninfo)
    : witnesses_(std::move(witnesses)),
      cosigned_file_(std::move(cosigned_file)),
      metrics_(metrics),
      cosigned_conninfo_(std::move(cosigned_conninfo)) {}

WitnessSender::~WitnessSender() { stop(); }

void WitnessSender::head_signed(const audit::SignedTreeHead& head) {
  {
    std::lock_guard lock(mutex_);
    latest_ = head;
    ++heads_;
  }
  wake_.notify_one();
}

void WitnessSender::start(const audit::AuditLog& log, std::string origin) {
  log_ = &log;
  origin_ = std::move(origin);
  // What the witnesses cosigned before, for this origin: their sizes are
  // where the next consistency proofs start.
  auto stored = audit::read_cosigned(cosigned_file_);
  if (!stored) {
    log_event(LogLevel::kWarn, "audit_witness_state_unreadable", {{"reason", stored.error().message}});
  } else if (stored->origin == origin_) {
    cosigned_ = std::move(*stored);
    for (const auto& [name, note_text] : cosigned_.checkpoints) {
      auto parsed = audit::note::parse_note(note_text);
      auto checkpoint = parsed ? audit::parse_checkpoint(parsed->text) : Result<audit::Checkpoint>(parsed.error());
      if (checkpoint) witness_size_[name] = checkpoint->size;
    }
  }
  cosigned_.origin = origin_;
  read_table();
  thread_ = std::thread([this] {
    name_this_thread("hfv-witness");
    run();
  });
}

storage::PostgresqlDb* WitnessSender::table() {
  if (cosigned_conninfo_.empty()) return nullptr;
  if (!table_) {
    auto db = storage::PostgresqlDb::connect(cosigned_conninfo_);
    if (!db) {
      log_event(LogLevel::kWarn, "audit_witness_table_unreachable", {{"reason", db.error().message}});
      return nullptr;
    }
    table_ = std::move(*db);
  }
  return table_.get();
}

void WitnessSender::read_table() {
  auto* db = table();
  if (db == nullptr) return;
  auto stored = pg::read_cosigned(*db, origin_);
  if (!stored) {
    log_event(LogLevel::kWarn, "audit_witness_table_unreadable", {{"reason", stored.error().message}});
    table_.reset();  // connected again next time
    return;
  }
  for (const auto& [name, note_text] : stored->checkpoints) {
    auto parsed = audit::note::parse_note(note_text);
    auto checkpoint = parsed ? audit::parse_checkpoint(parsed->text) : Result<audit::Checkpoint>(parsed.error());
    if (!checkpoint) continue;
    auto& size = witness_size_[name];
    if (checkpoint->size > size) {
      size = checkpoint->size;
      cosigned_.checkpoints[name] = note_text;
    }
  }
}

void WitnessSender::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void WitnessSender::run() {
  using Clock = std::chrono::steady_clock;
  std::uint64_t handled = 0;
  bool failed = false;             // the last round could not reach a witness
  auto next_round = Clock::now();  // at most one round per kMinInterval
  for (;;) {
    audit::SignedTreeHead head;
    bool last_round = false;
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        const auto now = Clock::now();
        const bool fresh = heads_ != handled;
        if (stopping_ || ((fresh || failed) && now >= next_round)) break;
        wake_.wait_until(lock, fresh || failed ? next_round : now + std::chrono::hours(1));
      }
      if (!latest_) {
        if (stopping_) return;
        continue;
      }
      head = *latest_;
      handled = heads_;
      last_round = stopping_;
    }
    next_round = Clock::now() + kMinInterval;
    read_table();  // what the witnesses cosigned for the other nodes
    auto note = log_->checkpoint_note(origin_, head);
    failed = false;
    if (!note) {
      log_event(LogLevel::kError, "audit_witness_checkpoint_failed", {{"reason", note.error().message}});
    } else {
      for (const auto& witness : witnesses_) {
        // Each head once per witness, unless it could not be reached.
        if (attempted_[witness.name] == head.tree_size && !failed_[witness.name]) continue;
        attempted_[witness.name] = head.tree_size;
        const Sent sent = send(witness, head, *note);
        failed_[witness.name] = sent == Sent::kError;
        failed = failed || sent == Sent::kError;
        if (metrics_ != nullptr && sent != Sent::kStale) {
          metrics_->observe_witness_cosign(witness.name, sent == Sent::kCosigned  ? "cosigned"
                                                         : sent == Sent::kRefused ? "refused"
                                                                                  : "error");
        }
      }
    }
    if (last_round) return;
  }
}

void WitnessSender::refused(const AuditWitness& witness, const audit::SignedTreeHead& head, long status,
                            std::uint64_t witness_size, const std::string& reason) {
  // The rollback alarm: this log cannot get its head cosigned.
  log_event(LogLevel::kError, "audit_witness_refused",
            {{"witness", witness.name},
             {"status", status},
             {"tree_size", head.tree_size},
             {"witness_tree_size", witness_size},
             {"reason", reason}});
}

WitnessSender::Sent WitnessSender::send(const AuditWitness& witness, const audit::SignedTreeHead& head,
                                        const std::string& note) {
  std::uint64_t old_size = witness_size_.count(witness.name) != 0 ? witness_size_[witness.name] : 0;
  for (int round = 0; round <= kMaxConflicts; ++round) {
    if (old_size > head.tree_size) {
      // In a cluster another broker may have sent a later head of the
      // shared log first: this one is stale, not a rollback, when the log
      // holds a head of the witness's size that extends it.
      if (log_->consistency_proof(static_cast<std::int64_t>(head.tree_size),
                                  static_cast<std::int64_t>(old_size))) {
        return Sent::kStale;
      }
      refused(witness, head, 0, old_size,
              "the witness has cosigned a tree of " + std::to_string(old_size) +
                  " records, more than this log's head: the audit log was rolled back or replaced");
      return Sent::kRefused;
    }
    std::vector<audit::merkle::Hash> proof;
    if (old_size != 0 && old_size != head.tree_size) {
      auto p = log_->consistency_proof(static_cast<std::int64_t>(old_size),
                                       static_cast<std::int64_t>(head.tree_size));
      if (!p) {
        refused(witness, head, 0, old_size,
                "this log has no signed head of the witness's size " + std::to_string(old_size) +
                    " to prove consistency from: the audit log was rolled back or replaced (" +
                    p.error().message + ")");
        return Sent::kRefused;
      }
      proof = std::move(p->path);
    }
    const WitnessAnswer answer = post_add_checkpoint(
        witness.url, audit::add_checkpoint_body(old_size, proof, note), kWitnessTimeoutSeconds);
    if (answer.reply == WitnessReply::kUnavailable) {
      log_event(LogLevel::kWarn, "audit_witness_unreachable",
                {{"witness", witness.name}, {"status", answer.status}, {"reason", answer.reason}});
      return Sent::kError;
    }
    if (answer.reply == WitnessReply::kConflict) {
      if (answer.size == old_size) {
        refused(witness, head, answer.status, old_size, "a conflict at the size it was sent");
        return Sent::kRefused;
      }
      old_size = answer.size;
      witness_size_[witness.name] = old_size;
      continue;
    }
    if (answer.reply == WitnessReply::kRefused) {
      refused(witness, head, answer.status, old_size, answer.reason);
      return Sent::kRefused;
    }
    // 200: the witness's cosignature lines, checked before they are kept.
    auto cosigned = audit::note::parse_note(note + answer.body);
    const audit::note::Verifier trusted[] = {witness.key};
    auto verified = cosigned ? audit::note::verify_note(*cosigned, trusted)
                             : Result<std::vector<audit::note::VerifiedSignature>>(cosigned.error());
    if (!verified) {
      log_event(LogLevel::kError, "audit_witness_bad_cosignature",
                {{"witness", witness.name}, {"reason", verified.error().message}});
      return Sent::kError;
    }
    std::string kept = cosigned->text + "\n";
    for (const auto& s : cosigned->signatures) {
      if (s.name == origin_ || (s.name == witness.key.name && s.key_id == witness.key.key_id)) kept += s.line;
    }
    witness_size_[witness.name] = head.tree_size;
    cosigned_.checkpoints[witness.name] = kept;
    if (auto s = audit::write_cosigned(cosigned_file_, cosigned_); !s) {
      log_event(LogLevel::kWarn, "audit_witness_state_unwritable", {{"reason", s.error().message}});
    }
    if (auto* db = table()) {
      if (auto s = pg::save_cosigned(*db, origin_, witness.name, head.tree_size, kept); !s) {
        log_event(LogLevel::kWarn, "audit_witness_table_unwritable", {{"reason", s.error().message}});
        table_.reset();
      }
    }
    log_event(LogLevel::kDebug, "audit_witness_cosigned",
              {{"witness", witness.name}, {"tree_size", head.tree_size}});
    return Sent::kCosigned;
  }
  refused(witness, head, 0, old_size, "the witness's tree size kept changing (conflicts)");
  return Sent::kRefused;
}

}  // namespace hfv::broker
