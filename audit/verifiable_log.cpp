// VerifiableLog (verifiable_log.hpp): open and recovery, the writer thread
// (group commit, signed heads, retention), and the readers. Mutable state
// is either the writer thread's alone or guarded by mutex_ (see the header).
#include "audit/verifiable_log.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "common/async_event.hpp"
#include "common/thread_name.hpp"
#include "common/time.hpp"
#include "audit/checkpoint.hpp"
#include "audit/postgresql_log.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit {

namespace net = boost::asio;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxBatch = 512;  // appends in one transaction at most
// Entries waiting that are worth a transaction now, whatever may wait.
constexpr std::size_t kEnoughEntries = 512;
constexpr auto kRetentionEvery = std::chrono::hours(1);

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

// One append request waiting for the writer. Owned by the caller, who waits
// until notified.
struct VerifiableLog::Pending {
  LeafBatch batch;
  Result<std::int64_t> result{make_error("audit_unavailable", "not written")};
  std::function<void()> notify;  // called by the writer thread once, after `result` is set
  std::chrono::steady_clock::time_point submitted{};
};

Result<std::unique_ptr<VerifiableLog>> VerifiableLog::open(const std::filesystem::path& path,
                                                           const crypto::SecretKey& kek,
                                                           LogSchema schema, LogOptions options) {
  return open(LogLocation::sqlcipher(path), kek, std::move(schema), std::move(options));
}

Result<std::unique_ptr<VerifiableLog>> VerifiableLog::open(const LogLocation& where,
                                                           const crypto::SecretKey& kek,
                                                           LogSchema schema, LogOptions options) {
  std::unique_ptr<VerifiableLog> log(new VerifiableLog());
  if (auto s = log->start(where, kek, std::move(schema), std::move(options)); !s) return s.error();
  return log;
}

Status VerifiableLog::start(const LogLocation& where, const crypto::SecretKey& kek,
                            LogSchema schema, LogOptions options) {
  where_ = where;
  kek_ = kek;
  schema_ = std::move(schema);
  options_ = std::move(options);
  auto db = open_log_writer(where_, kek, schema_, keyring_);
  if (!db) return db.error();
  db_ = std::move(*db);

  // Rebuild the right edge of the tree, and check the anchor on the way.
  std::optional<SignedTreeHead> anchor;
  if (!options_.anchor_file.empty()) {
    auto a = read_anchor(options_.anchor_file);
    if (!a) return a.error();
    anchor = *a;
    if (anchor && !keyring_.key_history().verifies(*anchor)) {
      return make_error("bad_anchor",
                        "the anchor file's signed head does not verify with this log's keys");
    }
  }
  auto leaves = db_->load_leaves(0, -1);
  if (!leaves) return leaves.error();
  std::optional<merkle::Hash> root_at_anchor;
  for (const auto& leaf : *leaves) {
    if (anchor && tree_.size() == anchor->tree_size) root_at_anchor = tree_.root();
    tree_.append(leaf);
  }
  if (anchor && tree_.size() == anchor->tree_size) root_at_anchor = tree_.root();
  auto heads = db_->load_heads(std::nullopt);
  if (!heads) return heads.error();
  if (!heads->empty()) latest_head_ = heads->back();
  if (anchor) {
    if (anchor->tree_size > tree_.size()) {
      return make_error("rollback_detected",
                        "the audit database holds " + std::to_string(tree_.size()) +
                            " records but a signed head of " + std::to_string(anchor->tree_size) +
                            " was anchored: it was rolled back or truncated");
    }
    if (!root_at_anchor || *root_at_anchor != anchor->root) {
      return make_error("rollback_detected",
                        "the audit database does not match the anchored signed head of size " +
                            std::to_string(anchor->tree_size));
    }
  } else if (!options_.anchor_file.empty() && !heads->empty() && !where_.is_postgresql()) {
    // (A shared log's heads may all be other writers': a broker joining the
    // cluster starts its anchor at its first head, and the others' anchors
    // guard the log meanwhile.)
    return make_error("anchor_missing", "the anchor file " + options_.anchor_file.string() +
                                            " is missing although the log has signed heads;"
                                            " restore it (brokerctl audit verify checks a copy)");
  }
  committed_seq_ = static_cast<std::int64_t>(tree_.size());
  writer_ = std::thread([this] {
    name_this_thread("hfv-audit");
    writer_loop();
  });
  return {};
}

VerifiableLog::~VerifiableLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  db_.reset();
}

// --- The writer: group commit, heads, retention ---------------------------

void VerifiableLog::submit(Pending* pending) {
  pending->submitted = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(pending);
      queued_entries_ += pending->batch.count;
      wake_.notify_one();  // the writer recomputes when to write
      return;
    }
  }
  pending->result = make_error("audit_unavailable", "audit log is shutting down");
  auto notify = std::move(pending->notify);
  notify();
}

void VerifiableLog::run_on_writer(std::function<void()> job) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back([job = std::move(job), done] {
      job();
      done->set_value();
    });
  }
  wake_.notify_one();
  finished.wait();
}

void VerifiableLog::writer_loop() {
  auto next_head = std::chrono::steady_clock::now() + options_.head_interval;
  next_retention_ = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<Pending*> batch;
    std::deque<std::function<void()>> jobs;
    bool stop = false;
    {
      std::unique_lock lock(mutex_);
      const bool appends_due = wait_for_work(lock, next_head);
      while (appends_due && !queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(queue_.front());
        queued_entries_ -= queue_.front()->batch.count;
        queue_.pop_front();
      }
      jobs.swap(jobs_);
      stop = stopping_ && queue_.empty() && jobs_.empty();
    }
    if (!batch.empty()) {
      const Status status = write_batch(batch);
      for (Pending* p : batch) {
        if (!status) p->result = status.error();
        if (options_.on_append)
          options_.on_append(std::chrono::steady_clock::now() - p->submitted, bool(status));
        // The waiter may destroy *p as soon as it is notified: run a copy of
        // the callback that lives here, not the one inside *p.
        auto notify = std::move(p->notify);
        notify();
      }
    }
    for (auto& job : jobs) job();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_head) {
      make_head();
      next_head = now + options_.head_interval;
    }
    if (options_.personal_cutoff && now >= next_retention_) {
      run_retention();
      next_retention_ = now + kRetentionEvery;
    }
    if (stop) {
      make_head();
      return;
    }
  }
}

bool VerifiableLog::wait_for_work(std::unique_lock<std::mutex>& lock,
                                  std::chrono::steady_clock::time_point next_head) {
  for (;;) {
    if (stopping_ || queued_entries_ >= kEnoughEntries) return true;
    auto due = std::chrono::steady_clock::time_point::max();
    for (const Pending* p : queue_) due = std::min(due, p->submitted + p->batch.may_wait);
    const auto now = std::chrono::steady_clock::now();
    if (now >= due) return true;
    if (!jobs_.empty() || now >= next_head) return false;
    wake_.wait_until(lock, std::min(due, next_head));
  }
}

// Writes every pending batch in one transaction; on failure none of them is
// written. Entries other writers committed (a shared log) are added to the
// tree first, so sequence numbers and the tree stay the log's.
Status VerifiableLog::write_batch(std::vector<Pending*>& batch) {
  const auto known = static_cast<std::int64_t>(tree_.size());
  auto size = db_->begin_append(known);
  if (!size) return size.error();
  if (*size < known) {
    db_->abort_append();
    return make_error("rollback_detected",
                      "the audit log holds " + std::to_string(*size) + " records but " +
                          std::to_string(known) + " were written: it was rolled back or truncated");
  }
  if (*size > known) {
    auto others = db_->load_leaves(known, *size - known);
    if (!others || static_cast<std::int64_t>(others->size()) != *size - known) {
      db_->abort_append();
      return others ? make_error("corrupt", "records appended by another writer are missing")
                    : others.error();
    }
    for (const auto& leaf : *others) tree_.append(leaf);
    std::lock_guard lock(mutex_);
    committed_seq_ = *size;
  }
  std::int64_t seq = *size + 1;
  std::vector<std::int64_t> firsts;
  std::vector<merkle::Hash> leaves;
  for (Pending* p : batch) {
    firsts.push_back(seq);
    for (std::size_t i = 0; i < p->batch.count; ++i) {
      const std::string ts = utc_timestamp_now();
      const Leaf leaf = p->batch.encode(i, seq, ts);
      const merkle::Hash hash = merkle::leaf_hash(leaf.envelope);
      if (auto s = db_->insert(seq, ts, leaf, hash); !s) {
        db_->abort_append();
        return s;
      }
      leaves.push_back(hash);
      ++seq;
    }
  }
  if (auto s = db_->commit_append(); !s) return s;
  for (const auto& leaf : leaves) tree_.append(leaf);
  {
    std::lock_guard lock(mutex_);
    committed_seq_ = seq - 1;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->result = firsts[i];
  return {};
}

void VerifiableLog::make_head() {
  const std::uint64_t size = tree_.size();
  if (size == 0) return;
  {
    std::lock_guard lock(mutex_);
    if (latest_head_ && latest_head_->tree_size == size) return;
  }
  const SignedTreeHead head =
      sign_tree_head(keyring_.signer(), size, tree_.root(), utc_timestamp_now());
  // The anchor covers committed entries only, so it is written even if the
  // head's own row could not be (it is evidence either way).
  (void)db_->store_head(head);
  if (!options_.anchor_file.empty()) (void)write_anchor(options_.anchor_file, head);
  {
    std::lock_guard lock(mutex_);
    latest_head_ = head;
  }
  if (options_.on_head) options_.on_head(head);
}

void VerifiableLog::run_retention() {
  // A failure (disk full) is retried at the next run.
  (void)db_->erase_personal_before(options_.personal_cutoff());
}

Result<std::int64_t> VerifiableLog::erase_personal_before(const std::string& cutoff_ts) {
  Result<std::int64_t> result = make_error("audit_unavailable", "audit log is shutting down");
  run_on_writer([&] {
    auto count = db_->count_personal_before(cutoff_ts);
    if (!count) {
      result = count.error();
      return;
    }
    if (auto s = db_->erase_personal_before(cutoff_ts); !s) {
      result = s.error();
      return;
    }
    result = *count;
  });
  return result;
}

Result<SignedTreeHead> VerifiableLog::publish_head() {
  run_on_writer([this] { make_head(); });
  auto head = latest_head();
  if (!head) return make_error("empty", "the audit log has no records yet");
  return *head;
}

std::optional<SignedTreeHead> VerifiableLog::latest_head() const {
  std::lock_guard lock(mutex_);
  return latest_head_;
}

net::awaitable<Result<std::int64_t>> VerifiableLog::append(LeafBatch batch) {
  auto executor = co_await net::this_coro::executor;
  AsyncEvent written(executor);  // set on our executor: the writer thread posts there
  Pending pending;
  pending.batch = std::move(batch);
  pending.notify = [&written, executor] { net::post(executor, [&written] { written.set(); }); };
  submit(&pending);
  co_await written.wait();
  co_return std::move(pending.result);
}

Result<std::int64_t> VerifiableLog::append_blocking(LeafBatch batch) {
  // Shared so the promise outlives set_value() even if this frame is gone.
  auto finished = std::make_shared<std::promise<void>>();
  auto ready = finished->get_future();
  Pending pending;
  pending.batch = std::move(batch);
  pending.notify = [finished] { finished->set_value(); };
  submit(&pending);
  ready.wait();
  return std::move(pending.result);
}

Result<std::string> VerifiableLog::checkpoint_note(const std::string& origin,
                                                   const SignedTreeHead& head) const {
  if (!valid_origin(origin)) return make_error("bad_origin", "the checkpoint origin is not valid");
  if (!keyring_.key_history().verifies(head)) {
    return make_error("bad_tree_head", "the tree head is not one this log signed");
  }
  return signed_checkpoint(keyring_.signer(), Checkpoint{origin, head.tree_size, head.root, {}});
}

std::int64_t VerifiableLog::last_seq() const {
  std::lock_guard lock(mutex_);
  return committed_seq_;
}

// --- Readers: each on a connection of its own ------------------------------

Result<std::unique_ptr<LogConnection>> VerifiableLog::open_reader() const {
  return open_log_reader(where_, keyring_, schema_);
}

Result<ChainReport> VerifiableLog::verify(const LeafCheck& check) const {
  return verify_log_at(where_, kek_, options_.anchor_file, schema_, check);
}

Result<std::vector<StoredLeaf>> VerifiableLog::query(const std::vector<ColumnCondition>& conditions,
                                                     std::int64_t after_seq,
                                                     std::int64_t limit) const {
  auto db = open_reader();
  if (!db) return db.error();
  return (*db)->select(conditions, after_seq, limit);
}

Result<InclusionProof> VerifiableLog::inclusion_proof(std::int64_t seq,
                                                      std::int64_t tree_size) const {
  auto db = open_reader();
  if (!db) return db.error();
  std::optional<SignedTreeHead> head;
  if (tree_size == 0) {
    head = latest_head();
  } else {
    auto heads = (*db)->load_heads(static_cast<std::uint64_t>(tree_size));
    if (!heads) return heads.error();
    if (!heads->empty()) head = heads->front();
  }
  if (!head) return make_error("not_found", "no signed tree head of that size");
  if (seq < 1 || static_cast<std::uint64_t>(seq) > head->tree_size) {
    return make_error("not_found", "record " + std::to_string(seq) +
                                       " is not covered by the signed head of size " +
                                       std::to_string(head->tree_size));
  }
  auto leaves = (*db)->load_leaves(0, static_cast<std::int64_t>(head->tree_size));
  if (!leaves) return leaves.error();
  if (leaves->size() != head->tree_size)
    return make_error("corrupt", "records are missing below the head");
  InclusionProof proof;
  proof.seq = seq;
  proof.leaf_hash = (*leaves)[static_cast<std::size_t>(seq - 1)];
  proof.path = merkle::inclusion_proof(*leaves, static_cast<std::uint64_t>(seq - 1));
  proof.head = *head;
  return proof;
}

Result<ConsistencyProof> VerifiableLog::consistency_proof(std::int64_t first,
                                                          std::int64_t second) const {
  auto db = open_reader();
  if (!db) return db.error();
  auto heads = (*db)->load_heads(std::nullopt);
  if (!heads) return heads.error();
  auto find = [&](std::int64_t size) -> std::optional<SignedTreeHead> {
    if (size == 0) return latest_head();
    for (const auto& h : *heads) {
      if (h.tree_size == static_cast<std::uint64_t>(size)) return h;
    }
    return std::nullopt;
  };
  auto a = find(first);
  auto b = find(second);
  if (!a || !b || a->tree_size > b->tree_size || first == 0) {
    return make_error("not_found", "no signed tree heads of those sizes (first <= second)");
  }
  auto leaves = (*db)->load_leaves(0, static_cast<std::int64_t>(b->tree_size));
  if (!leaves) return leaves.error();
  if (leaves->size() != b->tree_size)
    return make_error("corrupt", "records are missing below the head");
  ConsistencyProof proof{*a, *b, merkle::consistency_proof(*leaves, a->tree_size)};
  return proof;
}

Result<std::string> VerifiableLog::export_ndjson(
    std::int64_t from_seq, std::int64_t to_seq, const std::function<bool(const std::string&)>& visible,
    const std::function<std::optional<std::string>(const std::string&)>& rekey_personal) const {
  auto head = latest_head();
  if (!head || from_seq < 1 || to_seq < from_seq ||
      static_cast<std::uint64_t>(to_seq) > head->tree_size) {
    return make_error("not_found", "the range is empty or not covered by the latest signed head");
  }
  auto db = open_reader();
  if (!db) return db.error();
  auto leaves = (*db)->load_leaves(0, static_cast<std::int64_t>(head->tree_size));
  if (!leaves) return leaves.error();
  if (leaves->size() != head->tree_size)
    return make_error("corrupt", "records are missing below the head");
  const std::string format = rekey_personal ? "hfv-audit-export/v2" : "hfv-audit-export/v1";
  json header(json{{"type", "header"},
                              {"format", format},
                              {"from_seq", from_seq},
                              {"to_seq", to_seq},
                              {"tree_head", tree_head_json(*head)},
                              {"public_key", crypto::to_hex(keyring_.public_key)}});
  // After a signing-key rotation, the way from the log's first key to the
  // key that signed this export (docs/audit-log-format.md).
  if (!keyring_.history.transitions.empty()) {
    header["first_key"] = crypto::to_hex(keyring_.history.first);
    header["key_transitions"] = key_transitions_json(keyring_.history.transitions);
  }
  std::string out = dump(header) + "\n";
  std::int64_t count = 0;
  auto rows = (*db)->for_each_leaf(from_seq, to_seq, [&](const StoredLeaf& r) {
    json proof = json::array();
    for (const auto& h : merkle::inclusion_proof(*leaves, static_cast<std::uint64_t>(r.seq - 1))) {
      proof.push_back(crypto::to_hex(h));
    }
    json line = {{"seq", r.seq}, {"proof", proof}};
    if (visible(r.envelope)) {
      line["type"] = "record";
      line["envelope"] = r.envelope;
      std::optional<std::string> rekeyed;
      if (rekey_personal && !r.personal.empty()) rekeyed = rekey_personal(r.personal);
      if (rekeyed) {
        line["personal"] = *rekeyed;
        line["personal_rekeyed"] = true;
      } else {
        line["personal"] = r.personal.empty() ? json(nullptr) : json(r.personal);
      }
    } else {
      line["type"] = "withheld";
      line["leaf_hash"] = r.leaf_hash;
    }
    out += dump(line) + "\n";
    ++count;
  });
  if (!rows) return rows.error();
  const std::string digest = crypto::to_hex(crypto::sha256(out));
  const auto signature = keyring_.signer().sign(format + "\n" + digest + "\n");
  out += dump(json{{"type", "end"},
                   {"records", count},
                   {"sha256", digest},
                   {"signature", crypto::to_hex(signature)}}) +
         "\n";
  return out;
}

Status VerifiableLog::rotate_data_key(const std::filesystem::path& path,
                                      const crypto::SecretKey& kek, const LogSchema& schema) {
  return log_store::rotate_data_key(path, kek, schema);
}

Status VerifiableLog::rewrap_keyring(const std::filesystem::path& path,
                                     const crypto::SecretKey& old_kek,
                                     const crypto::SecretKey& new_kek) {
  return log_store::rewrap_keyring(path, old_kek, new_kek);
}

Status VerifiableLog::rotate_data_key(const LogLocation& where, const crypto::SecretKey& kek,
                                      const LogSchema& schema) {
  if (where.is_postgresql()) {
    return make_error("unsupported",
                      "the data key of an audit log in PostgreSQL cannot be rotated yet (every sealed row"
                      " would be re-sealed); rotate the master key instead");
  }
  return log_store::rotate_data_key(where.file, kek, schema);
}

Status VerifiableLog::rewrap_keyring(const LogLocation& where, const crypto::SecretKey& old_kek,
                                     const crypto::SecretKey& new_kek) {
  if (where.is_postgresql()) return rewrap_postgresql_keyring(where.postgresql, old_kek, new_kek);
  return log_store::rewrap_keyring(where.file, old_kek, new_kek);
}

Result<crypto::Ed25519PublicKey> VerifiableLog::public_key_at(const LogLocation& where,
                                                              const crypto::SecretKey& kek,
                                                              const LogSchema& schema) {
  auto history = key_history_at(where, kek, schema);
  if (!history) return history.error();
  return history->first;
}

Result<KeyHistory> VerifiableLog::key_history_at(const LogLocation& where,
                                                 const crypto::SecretKey& kek,
                                                 const LogSchema& schema) {
  if (!where.is_postgresql()) return Keyring::load_key_history(keyring_path(where.file));
  Keyring keyring;
  auto db = open_log_for_check(where, kek, schema, keyring);
  if (!db) return db.error();
  return keyring.key_history();
}

Result<KeyTransition> VerifiableLog::rotate_signing_key(const LogLocation& where,
                                                        const crypto::SecretKey& kek,
                                                        const LogSchema& schema,
                                                        const std::string& origin) {
  if (!valid_origin(origin)) return make_error("bad_origin", "the checkpoint origin is not valid");
  if (where.is_postgresql())
    return rotate_postgresql_signing_key(where.postgresql, kek, origin, utc_timestamp_now());
  // The writer's lock for the whole rotation: the log is open nowhere else.
  auto lock = log_store::take_lock(where.file);
  if (!lock) return lock.error();
  Keyring keyring;
  auto db = open_log_for_check(where, kek, schema, keyring);
  if (!db) return db.error();
  auto leaves = (*db)->load_leaves(0, -1);
  if (!leaves) return leaves.error();
  db->reset();
  // The new seed and the transition replace the old seed in one atomic
  // write of the keyring: a crash leaves either the old keyring or the new.
  const KeyTransition t =
      keyring.rotate_signing_key(origin, leaves->size(), merkle::root(*leaves), utc_timestamp_now());
  if (auto s = keyring.save(keyring_path(where.file), kek); !s) return s.error();
  return t;
}

}  // namespace hfv::audit
