// The SQL of a verifiable log (contracts in log_store.hpp). Statement texts
// that create tables and indexes are stored in the database itself
// (sqlite_master): they are part of the file format.
#include "audit/log_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "crypto/hash.hpp"

namespace hfv::audit::log_store {

namespace {

constexpr const char* kLeafColumns = "seq, ts, envelope, personal, leaf_hash";

StoredLeaf leaf_from_row(const storage::Statement& row) {
  StoredLeaf leaf;
  leaf.seq = row.column_int(0);
  leaf.ts = row.column_text(1);
  leaf.envelope = row.column_text(2);
  leaf.personal = row.column_text(3);
  leaf.leaf_hash = row.column_text(4);
  return leaf;
}

}  // namespace

bool has_column(const LogSchema& schema, const std::string& name) {
  if (name == "ts") return true;
  for (const auto& c : schema.columns) {
    if (c.name == name) return true;
  }
  return false;
}

std::optional<merkle::Hash> hash_from_hex(const std::string& hex) {
  auto bytes = crypto::from_hex(hex);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  merkle::Hash h{};
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

SignedTreeHead head_from_columns(std::int64_t tree_size, std::string ts,
                                 const std::string& root_hex, std::string key_id,
                                 const std::string& signature_hex) {
  SignedTreeHead h;
  h.tree_size = static_cast<std::uint64_t>(tree_size);
  h.timestamp = std::move(ts);
  if (auto root = hash_from_hex(root_hex)) h.root = *root;
  h.key_id = std::move(key_id);
  auto sig = crypto::from_hex(signature_hex);
  if (sig && sig->size() == h.signature.size())
    std::copy(sig->begin(), sig->end(), h.signature.begin());
  return h;
}

std::filesystem::path sibling(const std::filesystem::path& db, const char* suffix) {
  std::filesystem::path p = db;
  p += suffix;
  return p;
}

void WriterLock::release() noexcept {
  if (fd_ >= 0) (void)::close(fd_);
  fd_ = -1;
}

Result<WriterLock> take_lock(const std::filesystem::path& db) {
  const auto lock_path = sibling(db, ".lock");
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("io_error", "cannot open " + lock_path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    (void)::close(fd);
    return make_error("locked", "the audit log " + db.string() + " is open in another process");
  }
  return WriterLock(fd);
}

Result<std::unique_ptr<storage::SqlcipherDb>> open_with_keyring(const std::filesystem::path& db,
                                                                const crypto::SecretKey& kek,
                                                                bool promote, Keyring& out) {
  auto kr = Keyring::load(keyring_path(db), kek);
  if (!kr) return kr.error();
  auto current = storage::SqlcipherDb::open(db, kr->db_key, /*create=*/false);
  if (current) {
    if (kr->next_db_key && promote) {  // the rotation never replaced the file
      kr->next_db_key.reset();
      if (auto s = kr->save(keyring_path(db), kek); !s) return s.error();
    }
    out = *kr;
    return current;
  }
  if (current.error().code == "bad_key" && kr->next_db_key) {
    auto next = storage::SqlcipherDb::open(db, *kr->next_db_key, /*create=*/false);
    if (next) {
      kr->db_key = *kr->next_db_key;
      kr->next_db_key.reset();
      if (promote) {
        if (auto s = kr->save(keyring_path(db), kek); !s) return s.error();
      }
      out = *kr;
      return next;
    }
  }
  return current.error();
}

Result<std::unique_ptr<storage::SqlcipherDb>> open_or_create(const std::filesystem::path& db,
                                                             const crypto::SecretKey& kek,
                                                             Keyring& out) {
  std::error_code ec;
  std::filesystem::remove(sibling(db, ".rekey"), ec);  // a data-key rotation that did not finish
  const auto keyring_file = keyring_path(db);
  const bool have_db = std::filesystem::exists(db, ec);
  if (!std::filesystem::exists(keyring_file, ec)) {
    if (have_db) {
      return make_error("bad_key", "audit keyring " + keyring_file.string() +
                                       " is missing: the database cannot be decrypted");
    }
    Keyring fresh = Keyring::generate();
    if (auto s = fresh.save(keyring_file, kek); !s) return s.error();
  }
  if (have_db) return open_with_keyring(db, kek, /*promote=*/true, out);
  auto kr = Keyring::load(keyring_file, kek);
  if (!kr) return kr.error();
  auto created = storage::SqlcipherDb::open(db, kr->db_key, /*create=*/true);
  if (!created) return created.error();
  out = *kr;
  return created;
}

Status create_schema(storage::SqlcipherDb& db, const LogSchema& schema) {
  // The statements' text is stored in the database (sqlite_master): it is
  // part of the format, spaces included.
  std::string sql =
      "PRAGMA secure_delete = ON;"
      "CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "INSERT OR IGNORE INTO audit_meta VALUES ('format', '" +
      schema.format +
      "');"
      "CREATE TABLE IF NOT EXISTS audit_records ("
      " seq INTEGER PRIMARY KEY, ts TEXT NOT NULL,";
  for (const auto& column : schema.columns)
    sql += " " + column.name + " " + column.declaration + ",";
  sql +=
      " envelope TEXT NOT NULL, personal TEXT, leaf_hash TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS audit_records_ts ON audit_records(ts);";
  for (const auto& index : schema.indexes) {
    sql += "CREATE INDEX IF NOT EXISTS " + index.name + " ON audit_records(" + index.column + ");";
  }
  sql +=
      "CREATE TABLE IF NOT EXISTS audit_heads (tree_size INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
      " root TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL);";
  if (auto s = db.exec(sql); !s) return s;
  auto format = db.prepare("SELECT value FROM audit_meta WHERE key = 'format';");
  if (!format) return format.error();
  if (!format->step() || format->column_text(0) != schema.format) {
    return make_error("unsupported_format", "the audit database is not in format " + schema.format);
  }
  return {};
}

Result<std::vector<SignedTreeHead>> load_heads(storage::SqlcipherDb& db,
                                               std::optional<std::uint64_t> tree_size) {
  auto rows =
      db.prepare(std::string("SELECT tree_size, ts, root, key_id, signature FROM audit_heads ") +
                 (tree_size ? "WHERE tree_size = ?" : "") + " ORDER BY tree_size;");
  if (!rows) return rows.error();
  if (tree_size) rows->bind(1, static_cast<std::int64_t>(*tree_size));
  std::vector<SignedTreeHead> heads;
  while (rows->step()) {
    heads.push_back(head_from_columns(rows->column_int(0), rows->column_text(1),
                                      rows->column_text(2), rows->column_text(3),
                                      rows->column_text(4)));
  }
  if (auto s = rows->status(); !s) return s.error();
  return heads;
}

Status store_head(storage::SqlcipherDb& db, const SignedTreeHead& head) {
  auto insert = db.prepare("INSERT OR IGNORE INTO audit_heads VALUES (?,?,?,?,?);");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(head.tree_size))
      .bind(2, head.timestamp)
      .bind(3, crypto::to_hex(head.root))
      .bind(4, head.key_id)
      .bind(5, crypto::to_hex(head.signature));
  insert->step();
  return insert->status();
}

Result<std::vector<merkle::Hash>> load_leaves(storage::SqlcipherDb& db, std::int64_t after_seq,
                                              std::int64_t limit) {
  auto rows = db.prepare(
      "SELECT seq, leaf_hash FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq;");
  if (!rows) return rows.error();
  rows->bind(1, after_seq).bind(2, limit < 0 ? INT64_MAX : after_seq + limit);
  std::vector<merkle::Hash> leaves;
  std::int64_t expected = after_seq + 1;
  while (rows->step()) {
    auto h = hash_from_hex(rows->column_text(1));
    if (rows->column_int(0) != expected || !h) {
      return make_error("corrupt",
                        "audit record " + std::to_string(expected) + " is missing or damaged");
    }
    leaves.push_back(*h);
    ++expected;
  }
  if (auto s = rows->status(); !s) return s.error();
  return leaves;
}

Result<LeafWriter> LeafWriter::begin(storage::SqlcipherDb& db, const LogSchema& schema) {
  if (auto s = db.exec("BEGIN IMMEDIATE;"); !s) return s.error();
  std::string names = "seq, ts,";
  std::string marks = "?,?,";
  for (const auto& column : schema.columns) {
    names += " " + column.name + ",";
    marks += "?,";
  }
  auto insert = db.prepare("INSERT INTO audit_records (" + names +
                           " envelope, personal, leaf_hash) VALUES (" + marks + "?,?,?);");
  if (!insert) {
    (void)db.exec("ROLLBACK;");
    return insert.error();
  }
  return LeafWriter(db, std::move(*insert), schema.columns.size());
}

Status LeafWriter::insert(std::int64_t seq, const std::string& ts, const Leaf& leaf,
                          const merkle::Hash& leaf_hash) {
  assert(leaf.columns.size() == columns_);  // the personality fills every column of its schema
  insert_.reset();
  insert_.bind(1, seq).bind(2, ts);
  int index = 3;
  for (const auto& value : leaf.columns) {
    if (value) {
      insert_.bind(index++, *value);
    } else {
      insert_.bind_null(index++);
    }
  }
  insert_.bind(index++, leaf.envelope);
  if (leaf.personal.empty()) {
    insert_.bind_null(index++);
  } else {
    insert_.bind(index++, leaf.personal);
  }
  insert_.bind(index, crypto::to_hex(leaf_hash));
  insert_.step();
  if (auto s = insert_.status(); !s) {
    (void)db_->exec("ROLLBACK;");
    return s;
  }
  return {};
}

Status LeafWriter::commit() {
  if (auto s = db_->exec("COMMIT;"); !s) {
    (void)db_->exec("ROLLBACK;");
    return s;
  }
  return {};
}

Result<std::vector<StoredLeaf>> select(storage::SqlcipherDb& db, const LogSchema& schema,
                                       const std::vector<ColumnCondition>& conditions,
                                       std::int64_t after_seq, std::int64_t limit) {
  std::string sql = std::string("SELECT ") + kLeafColumns + " FROM audit_records WHERE seq > ?";
  struct Arg {
    std::string text;
    std::int64_t number = 0;
    bool is_number = false;
  };
  std::vector<Arg> args;
  for (const auto& c : conditions) {
    // Column names go into the SQL text: only the schema's are accepted.
    const bool one_value = c.op == ColumnCondition::Op::equals ||
                           c.op == ColumnCondition::Op::at_least ||
                           c.op == ColumnCondition::Op::below || c.op == ColumnCondition::Op::listed;
    if (!has_column(schema, c.column) || (one_value && c.values.size() != 1)) {
      return make_error("bad_query", "no such audit column or condition: " + c.column);
    }
    switch (c.op) {
      case ColumnCondition::Op::equals:
        sql += " AND " + c.column + " = ?";
        args.push_back({c.values[0]});
        break;
      case ColumnCondition::Op::at_least:
        sql += " AND " + c.column + " >= ?";
        args.push_back({c.values[0]});
        break;
      case ColumnCondition::Op::below:
        sql += " AND " + c.column + " < ?";
        args.push_back({c.values[0]});
        break;
      case ColumnCondition::Op::listed:
        sql += " AND instr(',' || " + c.column + " || ',', ?) > 0";
        args.push_back({"," + c.values[0] + ","});
        break;
      case ColumnCondition::Op::any_of:
        sql += " AND " + c.column + " IN (";
        for (std::size_t i = 0; i < c.values.size(); ++i) {
          sql += i == 0 ? "?" : ",?";
          args.push_back({c.values[i]});
        }
        sql += ")";
        break;
      case ColumnCondition::Op::null_or_prefix:
      case ColumnCondition::Op::prefix:
        sql += " AND (" + (c.op == ColumnCondition::Op::prefix ? std::string("1 = 0") : c.column + " IS NULL");
        for (const auto& prefix : c.values) {
          sql += " OR substr(" + c.column + ", 1, ?) = ?";
          args.push_back({"", static_cast<std::int64_t>(prefix.size()), true});
          args.push_back({prefix});
        }
        sql += ")";
        break;
    }
  }
  sql += " ORDER BY seq LIMIT ?;";
  auto rows = db.prepare(sql);
  if (!rows) return rows.error();
  int index = 1;
  rows->bind(index++, after_seq);
  for (const Arg& arg : args) {
    if (arg.is_number) {
      rows->bind(index++, arg.number);
    } else {
      rows->bind(index++, arg.text);
    }
  }
  rows->bind(index, std::max<std::int64_t>(0, limit));
  std::vector<StoredLeaf> out;
  while (rows->step()) out.push_back(leaf_from_row(*rows));
  if (auto s = rows->status(); !s) return s.error();
  return out;
}

Status for_each_leaf(storage::SqlcipherDb& db, std::int64_t from_seq, std::int64_t to_seq,
                     const std::function<void(const StoredLeaf&)>& visit) {
  auto rows = db.prepare(std::string("SELECT ") + kLeafColumns +
                         " FROM audit_records WHERE seq >= ? AND seq <= ? ORDER BY seq;");
  if (!rows) return rows.error();
  rows->bind(1, from_seq).bind(2, to_seq);
  while (rows->step()) visit(leaf_from_row(*rows));
  return rows->status();
}

Status for_each_row(storage::SqlcipherDb& db, const LogSchema& schema,
                    const std::function<void(const LeafRow&)>& visit) {
  std::string names = "seq, ts,";
  for (const auto& column : schema.columns) names += " " + column.name + ",";
  auto rows = db.prepare("SELECT " + names +
                         " envelope, personal, leaf_hash FROM audit_records ORDER BY seq;");
  if (!rows) return rows.error();
  const int n = static_cast<int>(schema.columns.size());
  LeafRow row;
  while (rows->step()) {
    row.seq = rows->column_int(0);
    row.ts = rows->column_text(1);
    row.columns.clear();
    for (int i = 0; i < n; ++i) row.columns.push_back(rows->column_text(2 + i));
    row.envelope = rows->column_text(2 + n);
    row.personal_is_null = rows->column_is_null(3 + n);
    row.personal = rows->column_text(3 + n);
    row.leaf_hash = rows->column_text(4 + n);
    visit(row);
  }
  return rows->status();
}

Result<std::int64_t> count_personal_before(storage::SqlcipherDb& db, const std::string& cutoff_ts) {
  auto count =
      db.prepare("SELECT count(*) FROM audit_records WHERE ts < ? AND personal IS NOT NULL;");
  if (!count) return count.error();
  count->bind(1, cutoff_ts);
  return count->step() ? count->column_int(0) : std::int64_t{0};
}

Status erase_personal_before(storage::SqlcipherDb& db, const LogSchema& schema,
                             const std::string& cutoff_ts) {
  std::string sql = "UPDATE audit_records SET personal = NULL";
  for (const auto& column : schema.columns) {
    if (column.personal) sql += ", " + column.name + " = NULL";
  }
  sql += " WHERE ts < ? AND personal IS NOT NULL;";
  auto erase = db.prepare(sql);
  if (!erase) return erase.error();
  erase->bind(1, cutoff_ts);
  erase->step();
  return erase->status();
}

Status rewrap_keyring(const std::filesystem::path& db, const crypto::SecretKey& old_kek,
                      const crypto::SecretKey& new_kek) {
  auto kr = Keyring::load(keyring_path(db), old_kek);
  if (!kr) return kr.error();
  return kr->save(keyring_path(db), new_kek);
}

Status rotate_data_key(const std::filesystem::path& path, const crypto::SecretKey& kek,
                       const LogSchema& schema) {
  auto lock = take_lock(path);
  if (!lock) return lock.error();
  std::error_code ec;
  std::filesystem::remove(sibling(path, ".rekey"), ec);
  Keyring kr;
  {
    auto db = open_with_keyring(path, kek, /*promote=*/true, kr);
    if (!db) return db.error();
  }
  // 1. Record the next key first: whatever happens below, one of the two
  //    keys in the keyring opens the database.
  kr.next_db_key = crypto::SecretKey::random();
  if (auto s = kr.save(keyring_path(path), kek); !s) return s;
  // 2. and 3. Copy everything into a new file under the next key, which
  //    replaces the database in one rename.
  if (auto s = storage::SqlcipherDb::reencrypt_file(path, kr.db_key, *kr.next_db_key); !s) return s;
  // 4. Promote the next key.
  kr.db_key = *kr.next_db_key;
  kr.next_db_key.reset();
  if (auto s = kr.save(keyring_path(path), kek); !s) return s;
  auto check = storage::SqlcipherDb::open(path, kr.db_key, /*create=*/false);
  if (!check) return check.error();
  return create_schema(**check, schema);
}

}  // namespace hfv::audit::log_store
