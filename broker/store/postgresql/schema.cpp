#include "broker/store/postgresql/schema.hpp"

#include "crypto/hash.hpp"
#include "storage/compression.hpp"

namespace hfv::broker::pg {

namespace {

// Version 1: authorisations, verifications (reports), review records,
// batches and their items. Each later version adds its statements below,
// run from the version a database has, and bumps kSchemaVersion.
constexpr const char* kVersion1 =
    "CREATE TABLE IF NOT EXISTS authorizations ("
    " id TEXT PRIMARY KEY, principal TEXT NOT NULL, case_id TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_until TEXT NOT NULL, form_sha256 TEXT NOT NULL,"
    " categories TEXT NOT NULL, members TEXT NOT NULL, created_at TEXT NOT NULL,"
    " revoked_at TEXT);"
    "CREATE TABLE IF NOT EXISTS verifications ("
    " id TEXT PRIMARY KEY, node TEXT NOT NULL, principal TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL, request_sha256 TEXT NOT NULL, household_key TEXT NOT NULL,"
    " state TEXT NOT NULL, http_status INTEGER NOT NULL DEFAULT 0,"
    " response TEXT NOT NULL DEFAULT '', created_unix BIGINT NOT NULL, completed_at TEXT);"
    "CREATE UNIQUE INDEX IF NOT EXISTS verifications_key ON verifications(principal,"
    " idempotency_key) WHERE idempotency_key != '';"
    "CREATE INDEX IF NOT EXISTS verifications_household ON verifications(principal,"
    " household_key, created_unix);"
    "CREATE TABLE IF NOT EXISTS reviews ("
    " seq BIGSERIAL PRIMARY KEY, verification_id TEXT NOT NULL UNIQUE, principal TEXT NOT NULL,"
    " case_id TEXT NOT NULL, jurisdiction TEXT NOT NULL, next_review TEXT NOT NULL,"
    " batch_id TEXT NOT NULL, completed_unix BIGINT NOT NULL, issued BOOLEAN NOT NULL,"
    " payload TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS reviews_household ON reviews(principal, jurisdiction, case_id, seq);"
    "CREATE INDEX IF NOT EXISTS reviews_completed ON reviews(completed_unix);"
    "CREATE TABLE IF NOT EXISTS batches ("
    " id TEXT PRIMARY KEY, principal TEXT NOT NULL, operator_id TEXT NOT NULL, mode TEXT NOT NULL,"
    " spec TEXT NOT NULL, state TEXT NOT NULL, total BIGINT NOT NULL, created_unix BIGINT NOT NULL,"
    " finished_unix BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS batch_items ("
    " batch_id TEXT NOT NULL REFERENCES batches(id), idx BIGINT NOT NULL, case_id TEXT NOT NULL,"
    " jurisdiction TEXT NOT NULL, request TEXT NOT NULL, state TEXT NOT NULL,"
    " attempt BIGINT NOT NULL DEFAULT 0, verification_id TEXT NOT NULL DEFAULT '', result TEXT,"
    " PRIMARY KEY (batch_id, idx));";

// Version 2: several brokers share the batches and review records. A batch
// item is claimed by the node verifying it (owner) until its lease runs out
// (lease_until, milliseconds since 1970 on the database's clock); a review
// record remembers the node that wrote it, so a node settles only its own
// pending records.
constexpr const char* kVersion2 =
    "ALTER TABLE batch_items ADD COLUMN IF NOT EXISTS owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE batch_items ADD COLUMN IF NOT EXISTS lease_until BIGINT NOT NULL DEFAULT 0;"
    "CREATE INDEX IF NOT EXISTS batch_items_pending ON batch_items(batch_id, idx) WHERE state = 'pending';"
    "ALTER TABLE reviews ADD COLUMN IF NOT EXISTS node TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX IF NOT EXISTS reviews_pending ON reviews(node) WHERE NOT issued;";

// Version 3: an authorisation names the jurisdiction it was registered for
// (issue 20); rows from earlier versions have none (NULL) and cover no
// verification until registered again.
constexpr const char* kVersion3 = "ALTER TABLE authorizations ADD COLUMN IF NOT EXISTS jurisdiction TEXT;";

// Version 4: the store keyring (broker/store/store_keys.hpp): the
// column-sealing and pseudonym keys, wrapped under a key derived from the
// master key, one row every broker reads. A broker of version 3 would
// derive other keys: the version keeps it out.
constexpr const char* kVersion4 =
    "CREATE TABLE IF NOT EXISTS store_keyring (name TEXT PRIMARY KEY, keyring TEXT NOT NULL);";

// Version 5: the witnesses' cosigned checkpoints of the shared audit log
// (broker/store/postgresql/cosigned_store.hpp), the biggest tree per log
// origin and witness, read by every node and by brokerctl audit verify.
constexpr const char* kVersion5 =
    "CREATE TABLE IF NOT EXISTS audit_cosigned (origin TEXT NOT NULL, witness TEXT NOT NULL,"
    " tree_size BIGINT NOT NULL, note TEXT NOT NULL, PRIMARY KEY (origin, witness));";

// Version 6: the input archive (broker/verification/input_archive.hpp): per
// issued report its engine input, sealed like a report's body, and the
// policy files reports name (public text, kept once per version).
constexpr const char* kVersion6 =
    "CREATE TABLE IF NOT EXISTS verification_inputs (id TEXT PRIMARY KEY, inputs TEXT NOT NULL,"
    " inputs_sha256 TEXT NOT NULL, policy_version TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS policy_versions (version TEXT PRIMARY KEY, jurisdiction TEXT NOT NULL,"
    " content TEXT NOT NULL);";

// Version 7: appeals (docs/replay-and-what-if.md): the report an appeal
// issued in a report's place, marked in the transaction that stores it.
constexpr const char* kVersion7 =
    "ALTER TABLE verifications ADD COLUMN IF NOT EXISTS superseded_by TEXT NOT NULL DEFAULT '';";

// Version 8: a sealed column's plaintext may be a zstd frame (seal_column).
// No table changes, but a broker of version 7 would hand a frame on as a
// report: the version number keeps it out.

// Plaintexts this long or longer are compressed when that makes them
// shorter; an opened frame may expand to at most kMaxColumnBytes (well
// above any report, archive or batch body: max_body_bytes is at most 16 MiB).
constexpr std::size_t kCompressFrom = 256;
constexpr std::size_t kMaxColumnBytes = std::size_t{256} << 20;

}  // namespace

Status migrate(storage::PostgresqlDb& db) {
  return storage::transaction(db, [&db]() -> Status {
    // One migrating broker at a time (key: "hfv" schema lock).
    if (auto s = db.run("SELECT pg_advisory_xact_lock(7235)"); !s) return s;
    if (auto s = db.run("CREATE TABLE IF NOT EXISTS hfv_schema (version INTEGER NOT NULL)"); !s) {
      return s;
    }
    auto rows = db.query("SELECT max(version) FROM hfv_schema");
    if (!rows) return rows.error();
    const int current = (rows->empty() || !(*rows)[0][0]) ? 0 : std::stoi(*(*rows)[0][0]);
    if (current > kSchemaVersion) {
      return make_error("schema_too_new", "the database schema is version " + std::to_string(current) +
                                              "; this broker knows up to " +
                                              std::to_string(kSchemaVersion) + ": upgrade the broker");
    }
    if (current == kSchemaVersion) return Status::success();
    if (current < 1) {
      if (auto s = db.exec(kVersion1); !s) return s;
    }
    if (current < 2) {
      if (auto s = db.exec(kVersion2); !s) return s;
    }
    if (current < 3) {
      if (auto s = db.exec(kVersion3); !s) return s;
    }
    if (current < 4) {
      if (auto s = db.exec(kVersion4); !s) return s;
    }
    if (current < 5) {
      if (auto s = db.exec(kVersion5); !s) return s;
    }
    if (current < 6) {
      if (auto s = db.exec(kVersion6); !s) return s;
    }
    if (current < 7) {
      if (auto s = db.exec(kVersion7); !s) return s;
    }
    return db.run("INSERT INTO hfv_schema (version) VALUES ($1)", {std::to_string(kSchemaVersion)});
  });
}

std::string seal_column(const crypto::SecretKey& key, const std::string& plain,
                        const std::string& context) {
  return storage::seal_hex_compressed(key, plain, context, kCompressFrom);
}

Result<std::string> open_column(const crypto::SecretKey& key, const std::string& box,
                                const std::string& context) {
  auto plain = storage::open_hex_compressed(key, box, context, kMaxColumnBytes);
  if (!plain) {
    return make_error("corrupt_state",
                      "a sealed column does not open: not hex, edited, moved to another row, under another key, "
                      "or its compressed content malformed");
  }
  return std::move(*plain);
}

}  // namespace hfv::broker::pg
