// The PostgreSQL backend of a verifiable log (postgresql_log.hpp): tables,
// sealing and pseudonyms, serialised appends, snapshot readers.
#include "audit/postgresql_log.hpp"

#include <algorithm>
#include <optional>

#include "crypto/hash.hpp"
#include "storage/compression.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::audit {

namespace {

using storage::PgRow;
using storage::PgValue;
using storage::PostgresqlDb;

// Advisory lock keys: creating the tables, and appending (one group commit
// of one broker at a time, cluster-wide).
constexpr const char* kCreateLock = "SELECT pg_advisory_xact_lock(7236)";
constexpr const char* kAppendLock = "SELECT pg_advisory_xact_lock(7237)";
// Rows per page when a reader walks the whole log.
constexpr std::int64_t kPage = 2000;
// Key purposes under the keyring's data key.
constexpr std::string_view kPurposeSeal = "hfv/audit-pg-seal/v1";
constexpr std::string_view kPurposePseudonym = "hfv/audit-pg-pseudonym/v1";

const std::string& text(const PgValue& v) {
  static const std::string empty;
  return v ? *v : empty;
}

std::int64_t number(const PgValue& v) { return v ? std::stoll(*v) : 0; }

// The keys a log derives from its keyring's data key.
struct ColumnKeys {
  crypto::SecretKey seal;
  crypto::SecretKey pseudonym;
  explicit ColumnKeys(const Keyring& keyring)
      : seal(crypto::derive_key(keyring.db_key, kPurposeSeal)),
        pseudonym(crypto::derive_key(keyring.db_key, kPurposePseudonym)) {}
};

std::string box_context(const char* field, std::int64_t seq) {
  return std::string("audit_records|") + field + "|" + std::to_string(seq);
}

// Envelopes and personal parts of 128 bytes or more are sealed compressed
// when that makes them shorter (storage/compression.hpp); they are JSON, so
// a box holding a zstd frame is told apart from one written before. An
// opened frame may expand to at most kMaxLeafBytes.
constexpr std::size_t kCompressFrom = 128;
constexpr std::size_t kMaxLeafBytes = std::size_t{64} << 20;

std::string seal(const crypto::SecretKey& key, const std::string& plain, const char* field,
                 std::int64_t seq) {
  return storage::seal_hex_compressed(key, plain, box_context(field, seq), kCompressFrom);
}

std::optional<std::string> unseal(const crypto::SecretKey& key, const std::string& box,
                                  const char* field, std::int64_t seq) {
  return storage::open_hex_compressed(key, box, box_context(field, seq), kMaxLeafBytes);
}

std::string pseudonym(const crypto::SecretKey& key, const std::string& column,
                      const std::string& value) {
  return crypto::to_hex(crypto::hmac_sha256(key.bytes(), column + "|" + value));
}

const IndexColumn* find_column(const LogSchema& schema, const std::string& name) {
  for (const auto& c : schema.columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string column_list(const LogSchema& schema) {
  std::string names = "seq, ts,";
  for (const auto& c : schema.columns) names += " " + c.name + ",";
  return names + " envelope, personal, leaf_hash";
}

std::string create_sql(const LogSchema& schema) {
  std::string sql =
      "CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS audit_keyring (id INTEGER PRIMARY KEY CHECK (id = 1),"
      " keyring TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS audit_records (seq BIGINT PRIMARY KEY, ts TEXT NOT NULL,";
  for (const auto& column : schema.columns) sql += " " + column.name + " " + column.declaration + ",";
  sql +=
      " envelope TEXT NOT NULL, personal TEXT, leaf_hash TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS audit_records_ts ON audit_records(ts);";
  for (const auto& index : schema.indexes)
    sql += "CREATE INDEX IF NOT EXISTS " + index.name + " ON audit_records(" + index.column + ");";
  sql +=
      "CREATE TABLE IF NOT EXISTS audit_heads (tree_size BIGINT PRIMARY KEY, ts TEXT NOT NULL,"
      " root TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL);";
  return sql;
}

// audit_meta's format on PostgreSQL: the records' format and "+zstd", the
// boxes' (some hold compressed leaves). A broker that predates compressed
// boxes wrote the records' format alone and refuses this value; the first
// writer of this version to open such a log changes it (its rows stay as
// they are and open as before). A reader accepts both.
std::string sealed_format(const LogSchema& schema) { return schema.format + "+zstd"; }

Status check_format(PostgresqlDb& db, const LogSchema& schema, bool reader) {
  auto rows = db.query("SELECT value FROM audit_meta WHERE key = 'format'");
  if (!rows) return rows.error();
  const std::string found = rows->empty() ? std::string() : text((*rows)[0][0]);
  if (found != sealed_format(schema) && !(reader && found == schema.format)) {
    return make_error("unsupported_format", "the PostgreSQL audit log is not in format " + sealed_format(schema));
  }
  return {};
}

Result<Keyring> read_keyring(PostgresqlDb& db, const crypto::SecretKey& kek) {
  auto rows = db.query("SELECT keyring FROM audit_keyring WHERE id = 1");
  if (!rows) return rows.error();
  if (rows->empty()) return make_error("bad_key", "the PostgreSQL audit log has no keyring");
  return Keyring::from_sealed_text(text((*rows)[0][0]), kek, "in PostgreSQL");
}

// Commits wait for the synchronous standby, whatever the database's default.
Status require_synchronous_commit(PostgresqlDb& db) {
  auto rows = db.query("SELECT current_setting('synchronous_commit')");
  if (!rows) return rows.error();
  const std::string& level = rows->empty() ? std::string() : text((*rows)[0][0]);
  if (level == "off" || level == "local") return db.run("SET synchronous_commit = on");
  return {};
}

class PostgresqlLogConnection final : public LogConnection {
 public:
  PostgresqlLogConnection(std::unique_ptr<PostgresqlDb> db, LogSchema schema, const Keyring& keyring,
                          bool snapshot)
      : db_(std::move(db)), schema_(std::move(schema)), keys_(keyring), snapshot_(snapshot) {}
  ~PostgresqlLogConnection() override {
    if (snapshot_ || in_append_) (void)db_->run("ROLLBACK");
  }
  PostgresqlLogConnection(const PostgresqlLogConnection&) = delete;
  PostgresqlLogConnection& operator=(const PostgresqlLogConnection&) = delete;

  Result<std::vector<SignedTreeHead>> load_heads(std::optional<std::uint64_t> tree_size) override {
    std::vector<PgValue> params;
    std::string sql = "SELECT tree_size, ts, root, key_id, signature FROM audit_heads";
    if (tree_size) {
      sql += " WHERE tree_size = $1::bigint";
      params.emplace_back(std::to_string(*tree_size));
    }
    auto rows = db_->query(sql + " ORDER BY tree_size", params);
    if (!rows) return rows.error();
    std::vector<SignedTreeHead> heads;
    for (const PgRow& r : *rows) {
      heads.push_back(log_store::head_from_columns(number(r[0]), text(r[1]), text(r[2]), text(r[3]),
                                                   text(r[4])));
    }
    return heads;
  }

  Result<std::vector<merkle::Hash>> load_leaves(std::int64_t after_seq,
                                                std::int64_t limit) override {
    const std::int64_t last = limit < 0 ? INT64_MAX : after_seq + limit;
    std::vector<merkle::Hash> leaves;
    std::int64_t expected = after_seq + 1;
    for (;;) {
      auto rows = db_->query(
          "SELECT seq, leaf_hash FROM audit_records WHERE seq > $1::bigint AND seq <= $2::bigint"
          " ORDER BY seq LIMIT $3::bigint",
          {std::to_string(expected - 1), std::to_string(last), std::to_string(kPage * 5)});
      if (!rows) return rows.error();
      for (const PgRow& r : *rows) {
        auto h = log_store::hash_from_hex(text(r[1]));
        if (number(r[0]) != expected || !h) {
          return make_error("corrupt",
                            "audit record " + std::to_string(expected) + " is missing or damaged");
        }
        leaves.push_back(*h);
        ++expected;
      }
      if (static_cast<std::int64_t>(rows->size()) < kPage * 5) return leaves;
    }
  }

  Result<std::vector<StoredLeaf>> select(const std::vector<ColumnCondition>& conditions,
                                         std::int64_t after_seq, std::int64_t limit) override {
    std::vector<PgValue> params{std::to_string(after_seq)};
    auto param = [&params](std::string value) {
      params.emplace_back(std::move(value));
      return "$" + std::to_string(params.size());
    };
    std::string sql = "SELECT " + column_list(schema_) + " FROM audit_records WHERE seq > $1::bigint";
    for (const auto& c : conditions) {
      using Op = ColumnCondition::Op;
      const bool one_value =
          c.op == Op::equals || c.op == Op::at_least || c.op == Op::below || c.op == Op::listed;
      const IndexColumn* column = find_column(schema_, c.column);
      const bool personal = column != nullptr && column->personal;
      // A pseudonym can only be compared for equality.
      if (!log_store::has_column(schema_, c.column) || (one_value && c.values.size() != 1) ||
          (personal && c.op != Op::equals && c.op != Op::any_of)) {
        return make_error("bad_query", "no such audit column or condition: " + c.column);
      }
      auto value = [&](const std::string& v) {
        return personal ? pseudonym(keys_.pseudonym, c.column, v) : v;
      };
      switch (c.op) {
        case Op::equals:
          sql += " AND " + c.column + " = " + param(value(c.values[0]));
          break;
        case Op::at_least:
          sql += " AND " + c.column + " >= " + param(c.values[0]);
          break;
        case Op::below:
          sql += " AND " + c.column + " < " + param(c.values[0]);
          break;
        case Op::listed:
          sql += " AND strpos(',' || " + c.column + " || ',', " + param("," + c.values[0] + ",") + ") > 0";
          break;
        case Op::any_of: {
          sql += " AND " + c.column + " IN (";
          for (std::size_t i = 0; i < c.values.size(); ++i)
            sql += (i == 0 ? "" : ",") + param(value(c.values[i]));
          sql += ")";
          break;
        }
        case Op::null_or_prefix:
        case Op::prefix:
          sql += " AND (" + (c.op == Op::prefix ? std::string("false") : c.column + " IS NULL");
          for (const auto& prefix : c.values) {
            const std::string length = param(std::to_string(prefix.size()));
            sql += " OR substr(" + c.column + ", 1, " + length + "::int) = " + param(prefix);
          }
          sql += ")";
          break;
      }
    }
    sql += " ORDER BY seq LIMIT " + param(std::to_string(std::max<std::int64_t>(0, limit))) + "::bigint";
    auto rows = db_->query(sql, params);
    if (!rows) return rows.error();
    std::vector<StoredLeaf> out;
    out.reserve(rows->size());
    for (const PgRow& r : *rows) {
      auto leaf = opened(r);
      if (!leaf) return leaf.error();
      out.push_back(std::move(*leaf));
    }
    return out;
  }

  Status for_each_leaf(std::int64_t from_seq, std::int64_t to_seq,
                       const std::function<void(const StoredLeaf&)>& visit) override {
    return pages(from_seq - 1, to_seq, [&](const PgRow& r) -> Status {
      auto leaf = opened(r);
      if (!leaf) return leaf.error();
      visit(*leaf);
      return {};
    });
  }

  Status for_each_row(const std::function<void(const LeafRow&)>& visit) override {
    const std::size_t n = schema_.columns.size();
    LeafRow row;
    row.stored_form = [this](const std::string& column, const std::string& value) {
      return pseudonym(keys_.pseudonym, column, value);
    };
    return pages(0, INT64_MAX, [&](const PgRow& r) -> Status {
      row.seq = number(r[0]);
      row.ts = text(r[1]);
      row.columns.clear();
      for (std::size_t i = 0; i < n; ++i) row.columns.push_back(text(r[2 + i]));
      row.problem.clear();
      auto envelope = unseal(keys_.seal, text(r[2 + n]), "envelope", row.seq);
      row.personal_is_null = !r[3 + n];
      std::optional<std::string> personal =
          row.personal_is_null ? std::string() : unseal(keys_.seal, text(r[3 + n]), "personal", row.seq);
      row.envelope = envelope.value_or("");
      row.personal = personal.value_or("");
      row.leaf_hash = text(r[4 + n]);
      if (!envelope || !personal)
        row.problem = "the sealed record does not open: moved from another row, edited, or under another key";
      visit(row);
      return {};
    });
  }

  Status store_head(const SignedTreeHead& head) override {
    return db_->run(
        "INSERT INTO audit_heads VALUES ($1::bigint, $2, $3, $4, $5) ON CONFLICT (tree_size) DO NOTHING",
        {std::to_string(head.tree_size), head.timestamp, crypto::to_hex(head.root), head.key_id,
         crypto::to_hex(head.signature)});
  }

  Result<std::int64_t> begin_append(std::int64_t /*known*/) override {
    pending_.clear();
    // A session set up again after a lost connection has the server's
    // defaults: raise synchronous_commit again.
    if (db_->reconnects() != reconnects_seen_) {
      if (auto s = require_synchronous_commit(*db_); !s) return s.error();
      reconnects_seen_ = db_->reconnects();
    }
    if (auto s = db_->run("BEGIN"); !s) return s.error();
    in_append_ = true;
    Result<std::int64_t> size = make_error("db_error", "no size");
    if (auto s = db_->run(kAppendLock); !s) {
      size = s.error();
    } else if (auto rows = db_->query("SELECT coalesce(max(seq), 0) FROM audit_records"); !rows) {
      size = rows.error();
    } else {
      return rows->empty() ? 0 : number((*rows)[0][0]);
    }
    abort_append();
    return size;
  }

  Status insert(std::int64_t seq, const std::string& ts, const Leaf& leaf,
                const merkle::Hash& leaf_hash) override {
    if (!in_append_) return make_error("db_error", "no append under way");
    PgRow row{std::to_string(seq), ts};
    for (std::size_t i = 0; i < schema_.columns.size(); ++i) {
      const auto& value = i < leaf.columns.size() ? leaf.columns[i] : std::nullopt;
      if (value && schema_.columns[i].personal && !value->empty()) {
        row.emplace_back(pseudonym(keys_.pseudonym, schema_.columns[i].name, *value));
      } else {
        row.push_back(value);
      }
    }
    row.emplace_back(seal(keys_.seal, leaf.envelope, "envelope", seq));
    row.push_back(leaf.personal.empty() ? PgValue() : PgValue(seal(keys_.seal, leaf.personal, "personal", seq)));
    row.emplace_back(crypto::to_hex(leaf_hash));
    pending_.push_back(std::move(row));
    return {};
  }

  // The group's rows in one statement, then the commit.
  Status commit_append() override {
    if (!in_append_) return make_error("db_error", "no append under way");
    Status s;
    if (!pending_.empty()) {
      std::string sql = "INSERT INTO audit_records (" + column_list(schema_) + ") VALUES ";
      std::vector<PgValue> params;
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        sql += i == 0 ? "(" : ",(";
        for (std::size_t j = 0; j < pending_[i].size(); ++j) {
          params.push_back(std::move(pending_[i][j]));
          sql += (j == 0 ? "$" : ",$") + std::to_string(params.size()) + (j == 0 ? "::bigint" : "");
        }
        sql += ")";
      }
      s = db_->run(sql, params);
    }
    pending_.clear();
    if (s) s = db_->run("COMMIT");
    if (!s) (void)db_->run("ROLLBACK");
    in_append_ = false;
    return s;
  }

  void abort_append() override {
    pending_.clear();
    if (in_append_) (void)db_->run("ROLLBACK");
    in_append_ = false;
  }

  Result<std::int64_t> count_personal_before(const std::string& cutoff_ts) override {
    auto rows = db_->query(
        "SELECT count(*) FROM audit_records WHERE ts < $1 AND personal IS NOT NULL", {cutoff_ts});
    if (!rows) return rows.error();
    return rows->empty() ? 0 : number((*rows)[0][0]);
  }

  Status erase_personal_before(const std::string& cutoff_ts) override {
    std::string sql = "UPDATE audit_records SET personal = NULL";
    for (const auto& column : schema_.columns) {
      if (column.personal) sql += ", " + column.name + " = NULL";
    }
    return db_->run(sql + " WHERE ts < $1 AND personal IS NOT NULL", {cutoff_ts});
  }

 private:
  // A stored row (column_list order) with its boxes opened.
  Result<StoredLeaf> opened(const PgRow& r) const {
    const std::size_t n = schema_.columns.size();
    StoredLeaf leaf;
    leaf.seq = number(r[0]);
    leaf.ts = text(r[1]);
    auto envelope = unseal(keys_.seal, text(r[2 + n]), "envelope", leaf.seq);
    std::optional<std::string> personal =
        r[3 + n] ? unseal(keys_.seal, text(r[3 + n]), "personal", leaf.seq) : std::string();
    if (!envelope || !personal) {
      return make_error("corrupt", "audit record " + std::to_string(leaf.seq) +
                                       " does not open: moved, edited, or under another key");
    }
    leaf.envelope = std::move(*envelope);
    leaf.personal = std::move(*personal);
    leaf.leaf_hash = text(r[4 + n]);
    return leaf;
  }

  // Rows after_seq < seq <= to_seq in pages, oldest first.
  Status pages(std::int64_t after_seq, std::int64_t to_seq,
               const std::function<Status(const PgRow&)>& visit) {
    for (;;) {
      auto rows = db_->query("SELECT " + column_list(schema_) +
                                 " FROM audit_records WHERE seq > $1::bigint AND seq <= $2::bigint"
                                 " ORDER BY seq LIMIT $3::bigint",
                             {std::to_string(after_seq), std::to_string(to_seq), std::to_string(kPage)});
      if (!rows) return rows.error();
      for (const PgRow& r : *rows) {
        if (auto s = visit(r); !s) return s;
        after_seq = number(r[0]);
      }
      if (static_cast<std::int64_t>(rows->size()) < kPage) return {};
    }
  }

  std::unique_ptr<PostgresqlDb> db_;
  LogSchema schema_;
  ColumnKeys keys_;
  bool snapshot_;
  bool in_append_ = false;
  long reconnects_seen_ = 0;
  std::vector<PgRow> pending_;
};

Result<std::unique_ptr<PostgresqlDb>> snapshot_connection(const std::string& conninfo) {
  auto db = PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  if (auto s = (*db)->run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s) return s.error();
  return db;
}

}  // namespace

Result<std::unique_ptr<LogConnection>> open_postgresql_log(const std::string& conninfo,
                                                           const crypto::SecretKey& kek,
                                                           const LogSchema& schema, bool create,
                                                           Keyring& out) {
  if (!create) {
    auto db = snapshot_connection(conninfo);
    if (!db) return db.error();
    auto exists = (*db)->query("SELECT to_regclass('audit_records') IS NOT NULL");
    if (!exists) return exists.error();
    if (exists->empty() || text((*exists)[0][0]) != "t")
      return make_error("not_found", "the database holds no audit log");
    if (auto s = check_format(**db, schema, true); !s) return s.error();
    auto keyring = read_keyring(**db, kek);
    if (!keyring) return keyring.error();
    out = *keyring;
    return std::unique_ptr<LogConnection>(
        std::make_unique<PostgresqlLogConnection>(std::move(*db), schema, out, true));
  }
  auto db = PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  PostgresqlDb& conn = **db;
  if (auto s = require_synchronous_commit(conn); !s) return s.error();
  Result<Keyring> keyring = make_error("bad_key", "no keyring");
  auto created = storage::transaction(conn, [&]() -> Status {
    if (auto s = conn.run(kCreateLock); !s) return s;
    if (auto s = conn.exec(create_sql(schema)); !s) return s;
    if (auto s = conn.run("INSERT INTO audit_meta VALUES ('format', $1) ON CONFLICT (key) DO NOTHING",
                          {sealed_format(schema)});
        !s) {
      return s;
    }
    if (auto s = conn.run("UPDATE audit_meta SET value = $1 WHERE key = 'format' AND value = $2",
                          {sealed_format(schema), schema.format});
        !s) {
      return s;
    }
    if (auto s = check_format(conn, schema, false); !s) return s;
    // The first broker makes the keyring; every other one reads it.
    if (auto s = conn.run("INSERT INTO audit_keyring VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                          {Keyring::generate().sealed_text(kek)});
        !s) {
      return s;
    }
    keyring = read_keyring(conn, kek);
    if (!keyring) return keyring.error();
    return {};
  });
  if (!created) return created.error();
  out = *keyring;
  return std::unique_ptr<LogConnection>(
      std::make_unique<PostgresqlLogConnection>(std::move(*db), schema, out, false));
}

Status rewrap_postgresql_keyring(const std::string& conninfo, const crypto::SecretKey& old_kek,
                                 const crypto::SecretKey& new_kek) {
  auto db = PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  PostgresqlDb& conn = **db;
  return storage::transaction(conn, [&]() -> Status {
    if (auto s = conn.run(kCreateLock); !s) return s;
    auto keyring = read_keyring(conn, old_kek);
    if (!keyring) return keyring.error();
    return conn.run("UPDATE audit_keyring SET keyring = $1 WHERE id = 1", {keyring->sealed_text(new_kek)});
  });
}

Result<KeyTransition> rotate_postgresql_signing_key(const std::string& conninfo,
                                                    const crypto::SecretKey& kek,
                                                    const std::string& origin,
                                                    const std::string& timestamp) {
  auto db = PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  PostgresqlDb& conn = **db;
  Result<KeyTransition> rotated = make_error("io_error", "not rotated");
  auto done = storage::transaction(conn, [&]() -> Status {
    // Both locks: no keyring change and no append meanwhile, so the
    // transition's tree is the log's as the new key takes over.
    if (auto s = conn.run(kCreateLock); !s) return s;
    if (auto s = conn.run(kAppendLock); !s) return s;
    auto keyring = read_keyring(conn, kek);
    if (!keyring) return keyring.error();
    auto rows = conn.query("SELECT seq, leaf_hash FROM audit_records ORDER BY seq");
    if (!rows) return rows.error();
    std::vector<merkle::Hash> leaves;
    leaves.reserve(rows->size());
    for (const PgRow& r : *rows) {
      auto h = log_store::hash_from_hex(text(r[1]));
      if (text(r[0]) != std::to_string(leaves.size() + 1) || !h) {
        return make_error("corrupt", "audit record " + std::to_string(leaves.size() + 1) +
                                         " is missing or its leaf hash is malformed: verify the log first");
      }
      leaves.push_back(*h);
    }
    const KeyTransition t = keyring->rotate_signing_key(origin, leaves.size(), merkle::root(leaves), timestamp);
    if (auto s = conn.run("UPDATE audit_keyring SET keyring = $1 WHERE id = 1", {keyring->sealed_text(kek)}); !s)
      return s;
    rotated = t;
    return {};
  });
  if (!done) return done.error();
  return rotated;
}

Result<std::unique_ptr<LogConnection>> open_postgresql_log_reader(const std::string& conninfo,
                                                                  const Keyring& keyring,
                                                                  const LogSchema& schema) {
  auto db = snapshot_connection(conninfo);
  if (!db) return db.error();
  return std::unique_ptr<LogConnection>(
      std::make_unique<PostgresqlLogConnection>(std::move(*db), schema, keyring, true));
}

}  // namespace hfv::audit
