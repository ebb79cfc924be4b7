// The SQLCipher backend as a LogConnection (over audit/log_store.hpp), and
// the choice of backend by location (log_connection.hpp).
#include "audit/log_connection.hpp"

#include "audit/postgresql_log.hpp"

namespace hfv::audit {

namespace {

class SqlcipherLogConnection final : public LogConnection {
 public:
  // `lock`: the writer's lock (none for a reader), released after the
  // database is closed (members are destroyed in reverse order).
  SqlcipherLogConnection(std::unique_ptr<storage::SqlcipherDb> db, LogSchema schema,
                         std::optional<log_store::WriterLock> lock)
      : lock_(std::move(lock)), db_(std::move(db)), schema_(std::move(schema)) {}
  ~SqlcipherLogConnection() override = default;
  SqlcipherLogConnection(const SqlcipherLogConnection&) = delete;
  SqlcipherLogConnection& operator=(const SqlcipherLogConnection&) = delete;

  Result<std::vector<SignedTreeHead>> load_heads(std::optional<std::uint64_t> tree_size) override {
    return log_store::load_heads(*db_, tree_size);
  }
  Result<std::vector<merkle::Hash>> load_leaves(std::int64_t after_seq,
                                                std::int64_t limit) override {
    return log_store::load_leaves(*db_, after_seq, limit);
  }
  Result<std::vector<StoredLeaf>> select(const std::vector<ColumnCondition>& conditions,
                                         std::int64_t after_seq, std::int64_t limit) override {
    return log_store::select(*db_, schema_, conditions, after_seq, limit);
  }
  Status for_each_leaf(std::int64_t from_seq, std::int64_t to_seq,
                       const std::function<void(const StoredLeaf&)>& visit) override {
    return log_store::for_each_leaf(*db_, from_seq, to_seq, visit);
  }
  Status for_each_row(const std::function<void(const LeafRow&)>& visit) override {
    return log_store::for_each_row(*db_, schema_, visit);
  }
  Status store_head(const SignedTreeHead& head) override {
    return log_store::store_head(*db_, head);
  }
  // The flock makes this process the only writer: the writer's count is
  // the file's.
  Result<std::int64_t> begin_append(std::int64_t known) override {
    auto writer = log_store::LeafWriter::begin(*db_, schema_);
    if (!writer) return writer.error();
    writer_.emplace(std::move(*writer));
    return known;
  }
  Status insert(std::int64_t seq, const std::string& ts, const Leaf& leaf,
                const merkle::Hash& leaf_hash) override {
    if (!writer_) return make_error("io_error", "no append under way");
    auto s = writer_->insert(seq, ts, leaf, leaf_hash);
    if (!s) writer_.reset();  // the writer rolled back
    return s;
  }
  Status commit_append() override {
    if (!writer_) return make_error("io_error", "no append under way");
    auto s = writer_->commit();
    writer_.reset();
    return s;
  }
  void abort_append() override {
    if (writer_) (void)db_->exec("ROLLBACK;");
    writer_.reset();
  }
  Result<std::int64_t> count_personal_before(const std::string& cutoff_ts) override {
    return log_store::count_personal_before(*db_, cutoff_ts);
  }
  Status erase_personal_before(const std::string& cutoff_ts) override {
    return log_store::erase_personal_before(*db_, schema_, cutoff_ts);
  }

 private:
  std::optional<log_store::WriterLock> lock_;
  std::unique_ptr<storage::SqlcipherDb> db_;
  LogSchema schema_;
  std::optional<log_store::LeafWriter> writer_;
};

}  // namespace

std::string LogLocation::describe() const {
  return is_postgresql() ? std::string("the PostgreSQL audit log") : file.string();
}

Result<std::unique_ptr<LogConnection>> open_log_writer(const LogLocation& where,
                                                       const crypto::SecretKey& kek,
                                                       const LogSchema& schema, Keyring& out) {
  if (where.is_postgresql()) return open_postgresql_log(where.postgresql, kek, schema, true, out);
  auto lock = log_store::take_lock(where.file);
  if (!lock) return lock.error();
  auto db = log_store::open_or_create(where.file, kek, out);
  if (!db) return db.error();
  if (auto s = log_store::create_schema(**db, schema); !s) return s.error();
  // Appends must not wait for WAL checkpoints (see storage/sqlcipher_db.hpp).
  if (auto s = (*db)->checkpoint_in_background(where.file, out.db_key); !s) return s.error();
  return std::unique_ptr<LogConnection>(
      std::make_unique<SqlcipherLogConnection>(std::move(*db), schema, std::move(*lock)));
}

Result<std::unique_ptr<LogConnection>> open_log_reader(const LogLocation& where,
                                                       const Keyring& keyring,
                                                       const LogSchema& schema) {
  if (where.is_postgresql()) return open_postgresql_log_reader(where.postgresql, keyring, schema);
  auto db = storage::SqlcipherDb::open(where.file, keyring.db_key, /*create=*/false);
  if (!db) return db.error();
  return std::unique_ptr<LogConnection>(
      std::make_unique<SqlcipherLogConnection>(std::move(*db), schema, std::nullopt));
}

Result<std::unique_ptr<LogConnection>> open_log_for_check(const LogLocation& where,
                                                          const crypto::SecretKey& kek,
                                                          const LogSchema& schema, Keyring& out) {
  if (where.is_postgresql()) return open_postgresql_log(where.postgresql, kek, schema, false, out);
  auto db = log_store::open_with_keyring(where.file, kek, /*promote=*/false, out);
  if (!db) return db.error();
  return std::unique_ptr<LogConnection>(
      std::make_unique<SqlcipherLogConnection>(std::move(*db), schema, std::nullopt));
}

}  // namespace hfv::audit
