// The cosigned checkpoints table (cosigned_store.hpp).
#include "broker/store/postgresql/cosigned_store.hpp"

namespace hfv::broker::pg {

Result<audit::CosignedFile> read_cosigned(storage::PostgresqlDb& db, const std::string& origin) {
  auto rows = db.query("SELECT witness, note FROM audit_cosigned WHERE origin = $1", {origin});
  if (!rows) return rows.error();
  audit::CosignedFile out;
  out.origin = origin;
  for (const auto& row : *rows) {
    if (!row[0] || !row[1]) continue;
    out.checkpoints[*row[0]] = *row[1];
  }
  return out;
}

Status save_cosigned(storage::PostgresqlDb& db, const std::string& origin,
                     const std::string& witness, std::uint64_t tree_size, const std::string& note) {
  return db.run(
      "INSERT INTO audit_cosigned (origin, witness, tree_size, note) VALUES ($1, $2, $3, $4)"
      " ON CONFLICT (origin, witness) DO UPDATE SET tree_size = EXCLUDED.tree_size, note = "
      "EXCLUDED.note"
      " WHERE audit_cosigned.tree_size < EXCLUDED.tree_size",
      {origin, witness, std::to_string(tree_size), note});
}

}  // namespace hfv::broker::pg
