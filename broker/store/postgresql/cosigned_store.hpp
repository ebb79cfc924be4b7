// The witnesses' cosigned checkpoints in the cluster's database (table
// audit_cosigned, schema version 5): on the postgresql backend every broker
// sends heads of the one shared audit log to the same witnesses, so what
// they cosigned is kept where every node and `brokerctl audit verify` on
// any node read it, not only in the sending node's `<anchor>.cosigned`
// (broker/app/witness_sender.hpp, broker/cli/witness_check.hpp).
//
// One row per (origin, witness): the cosigned checkpoint of the biggest
// tree that witness cosigned for that log, as the note text of format
// hfv-audit-cosigned/v1's values (docs/audit-log-format.md). A note is kept
// only over a smaller tree, so nodes storing concurrently never move the
// row back. Nothing personal: checkpoints hold sizes, roots and signatures.
//
// Threading: plain functions on a connection the caller owns (a
// PostgresqlDb is used by one thread at a time).
#pragma once

#include <cstdint>
#include <string>

#include "audit/checkpoint.hpp"
#include "common/result.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker::pg {

// The checkpoints kept for `origin` (witness name -> note); none: empty.
Result<audit::CosignedFile> read_cosigned(storage::PostgresqlDb& db, const std::string& origin);

// Keeps `note`, the witness's cosigned checkpoint of a tree of `tree_size`
// records, unless one of a tree at least as big is kept already.
Status save_cosigned(storage::PostgresqlDb& db, const std::string& origin,
                     const std::string& witness, std::uint64_t tree_size, const std::string& note);

}  // namespace hfv::broker::pg
