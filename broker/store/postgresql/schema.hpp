// The cluster backend's schema (PostgreSQL): created or migrated when a
// store connects, under a transaction-scoped advisory lock so brokers
// starting together do it once. A database whose schema is newer than this
// build knows is refused ("schema_too_new"): an older broker must not write
// into tables whose meaning it does not know.
//
// Personal data never reaches PostgreSQL in the clear: PostgreSQL does not
// encrypt at rest, so columns that could carry it (a report's body, its
// archived inputs) are
// sealed by the broker (AES-256-GCM under the random key of the store
// keyring, broker/store/store_keys.hpp; the row's id as associated data) and members are kept as keyed
// pseudonyms. A database administrator reads no ID number, name or amount.
#pragma once

#include <string>

#include "common/result.hpp"
#include "crypto/keys.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker::pg {

// The schema version this build writes and reads.
inline constexpr int kSchemaVersion = 8;

// Creates the tables (version 1) or checks the version; "schema_too_new"
// when the database is ahead of this build.
Status migrate(storage::PostgresqlDb& db);

// Column sealing: hex(nonce || ciphertext || tag) of `plain`, bound to
// `context` (table and row id). A plaintext of 256 bytes or more is sealed
// as a zstd frame of it when that is shorter (reports and archives are
// JSON: 4 and 12 times smaller in bench/run's scenario 7; less WAL, fewer
// data-file writes, less to the standby and the archive). open_column
// expands a frame and returns other plaintexts as they are (the store's
// plaintexts are JSON, which never begins with the frame's first byte); it
// fails ("corrupt_state") on a box that was edited, moved to another row
// or sealed under another key, and on a frame that is malformed or expands
// past 256 MiB.
// Legacy: the column key derived from the master key before the store
// keyring; an existing database keeps it (wrapped in the keyring now).
inline constexpr std::string_view kPurposeStateColumns = "hfv/state-columns/v1";
std::string seal_column(const crypto::SecretKey& key, const std::string& plain,
                        const std::string& context);
Result<std::string> open_column(const crypto::SecretKey& key, const std::string& box,
                                const std::string& context);

}  // namespace hfv::broker::pg
