// The state database beside a running test daemon (tests/integration/
// stack.hpp), as an operator with the master key reaches it: SQLCipher
// under the state key, or the PostgreSQL database (where personal columns
// are sealed by the broker). For tests that check what the stores hold
// (the input archive: replay_test.cpp, appeal_test.cpp, what_if_test.cpp).
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "broker/ops/config.hpp"
#include "broker/store/store_keys.hpp"
#include "crypto/keys.hpp"
#include "storage/postgresql_db.hpp"
#include "storage/sqlcipher_db.hpp"
#include "tests/integration/stack.hpp"

namespace hfv::testing {

// The state database beside the running daemon, as an operator with the
// master key reaches it: SQLCipher under the state key, or the PostgreSQL
// database (where the archive's column is sealed by the broker).
class StateDb {
 public:
  explicit StateDb(const Stack& s) {
    auto config = hfv::broker::load_config(s.broker_dir / "brokerd.json");
    REQUIRE(config.ok());
    if (s.on_postgresql()) {
      auto db = hfv::storage::PostgresqlDb::connect(config->storage.postgresql.conninfo);
      REQUIRE(db.ok());
      pg_ = std::move(*db);
      return;
    }
    auto master = hfv::crypto::load_master_key_file(s.broker_dir / "keys" / "master.key");
    REQUIRE(master.ok());
    auto keys = hfv::broker::open_store_keys(*config, *master);
    REQUIRE(keys.ok());
    auto db = hfv::storage::SqlcipherDb::open(config->storage.state_db, keys->state, false);
    REQUIRE(db.ok());
    lite_ = std::move(*db);
  }
  // The archived texts' mean size in bytes (the stored text, or its sealed
  // box on PostgreSQL).
  std::int64_t mean_archive_bytes() {
    if (pg_) {
      auto rows = pg_->query("SELECT avg(length(inputs))::bigint FROM verification_inputs");
      REQUIRE(rows.ok());
      return std::stoll(*(*rows)[0][0]);
    }
    auto stmt = lite_->prepare("SELECT CAST(avg(length(inputs)) AS INTEGER) FROM verification_inputs;");
    REQUIRE(stmt.ok());
    REQUIRE(stmt->step());
    return stmt->column_int(0);
  }
  std::int64_t archived_rows() {
    if (pg_) {
      auto rows = pg_->query("SELECT count(*) FROM verification_inputs");
      REQUIRE(rows.ok());
      return std::stoll(*(*rows)[0][0]);
    }
    auto stmt = lite_->prepare("SELECT count(*) FROM verification_inputs;");
    REQUIRE(stmt.ok());
    REQUIRE(stmt->step());
    return stmt->column_int(0);
  }
  // Edits a stored report (its case id; SQLCipher only).
  void edit_report(const std::string& id) {
    REQUIRE(lite_->run("UPDATE verifications SET response = replace(response, '\"case_id\":\"R-',"
                       " '\"case_id\":\"X-') WHERE id = ?;",
                       {id})
                .ok());
  }
  // Extends an authorisation's validity behind the broker's back (an
  // operator with the master key; SQLCipher only).
  void extend_authorization(const std::string& id, const std::string& valid_until) {
    REQUIRE(lite_->run("UPDATE authorizations SET valid_until = ? WHERE id = ?;", {valid_until, id}).ok());
  }
  // Edits the archived input of `victim`: on SQLCipher a figure of its text
  // (the digest no longer matches), on PostgreSQL another row's sealed box
  // (it no longer opens for this row).
  void tamper(const std::string& victim, const std::string& other) {
    if (pg_) {
      REQUIRE(
          pg_->run("UPDATE verification_inputs SET inputs = (SELECT inputs FROM verification_inputs"
                   " WHERE id = $2) WHERE id = $1",
                   {victim, other})
              .ok());
      return;
    }
    REQUIRE(
        lite_
            ->run(
                "UPDATE verification_inputs SET inputs = replace(inputs, '\"programme\":\"dibao\"',"
                " '\"programme\":\"marginal\"') WHERE id = ?;",
                {victim})
            .ok());
  }

 private:
  std::unique_ptr<hfv::storage::PostgresqlDb> pg_;
  std::unique_ptr<hfv::storage::SqlcipherDb> lite_;
};


}  // namespace hfv::testing
