// Rotation of the audit log's signing key (issue 22, key lifecycle), end to
// end: the real brokerd stopped, `brokerctl audit rotate-key --signing-key`,
// brokerd started again on the same configuration (audit.public_key still
// the FIRST key), new heads signed by the new key, `brokerctl audit verify`
// and an export checked across the rotation. SQLCipher files; the unit-level
// cases (forged transitions, head ranges) are in tests/audit.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../integration/stack.hpp"
#include "audit/key_history.hpp"
#include "audit/keyring.hpp"
#include "audit/tree_head.hpp"
#include "crypto/hash.hpp"
#include "run.hpp"

namespace fs = std::filesystem;
using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::quote;
using hfv::testing::read_file;
using hfv::testing::Ran;
using hfv::testing::run;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

// Starts brokerd again on the stack's config and waits until it listens.
void restart(Stack& stack, const std::string& log_name) {
  fs::remove(stack.broker_dir / "run" / "brokerd.port");
  stack.broker = std::make_unique<hfv::testing::Process>(
      std::vector<std::string>{BROKERD_BIN, "run", "--config", (stack.broker_dir / "brokerd.json").string()},
      stack.dir.path / log_name);
  const std::string port = hfv::testing::wait_for_file(stack.broker_dir / "run" / "brokerd.port");
  INFO(read_file(stack.dir.path / log_name));
  REQUIRE_FALSE(port.empty());
  stack.url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
}

}  // namespace

TEST_CASE("signing-key rotation: brokerd restarts, new heads are signed by the new key, and audit verify and an "
          "export verify across the rotation with the first key pinned",
          "[ops][integration][keys]") {
  Stack stack;
  (void)stack.verify("HRB-SK-1", json::array({member("230102197503120016", "张伟", "applicant")}));
  const fs::path config_file = stack.broker_dir / "brokerd.json";
  const json config = json::parse(read_file(config_file));
  REQUIRE(config["audit"].contains("public_key"));
  const std::string pinned = config["audit"]["public_key"];
  const std::string rotate = std::string(BROKERCTL_BIN) + " audit rotate-key --signing-key --config " + quote(config_file);

  // Not while brokerd runs.
  const Ran busy = run(rotate);
  INFO(busy.output);
  CHECK(busy.exit_code != 0);
  CHECK(busy.output.find("running") != std::string::npos);

  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  const fs::path keyring = hfv::audit::keyring_path(stack.broker_dir / "data" / "audit.db");
  auto before = hfv::audit::Keyring::load_key_history(keyring);
  REQUIRE(before.ok());
  REQUIRE(before->transitions.empty());
  const Ran rotated = run(rotate);
  INFO(rotated.output);
  REQUIRE(rotated.exit_code == 0);
  CHECK(rotated.output.find("OK:") != std::string::npos);
  auto after = hfv::audit::Keyring::load_key_history(keyring);
  REQUIRE(after.ok());
  REQUIRE(after->transitions.size() == 1);
  CHECK(hfv::crypto::to_hex(after->first) == pinned);
  CHECK(after->current() != after->first);
  const std::string new_key_id = hfv::audit::audit_key_id(after->current());
  // The published history beside the anchor.
  const fs::path anchor = stack.broker_dir / config["audit"]["anchor_file"].get<std::string>();
  fs::path history_file = anchor;
  history_file += ".key-history.json";
  auto published = hfv::audit::key_history_from_json(json::parse(read_file(history_file), nullptr, false));
  REQUIRE(published.ok());
  CHECK(published->current() == after->current());

  // Same configuration: brokerd starts, and its new heads are the new key's.
  restart(stack, "brokerd-rotated.log");
  (void)stack.verify("HRB-SK-2", json::array({member("230102197503120016", "张伟", "applicant")}));
  // The same history at GET /v1/audit/key-history.
  const auto served = https("GET", stack.url + "/v1/audit/key-history", stack.supervisor);
  REQUIRE(served.status == 200);
  CHECK(json::parse(served.body) == hfv::audit::key_history_json(*after));
  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  auto head = hfv::audit::read_anchor(anchor);
  REQUIRE(head.ok());
  REQUIRE(head->has_value());
  CHECK((*head)->key_id == new_key_id);
  CHECK((*head)->tree_size > after->transitions[0].tree_size);

  const Ran verified = run(std::string(BROKERCTL_BIN) + " audit verify --config " + quote(config_file));
  INFO(verified.output);
  CHECK(verified.exit_code == 0);
  CHECK(verified.output.find("OK:") != std::string::npos);
  CHECK(verified.output.find("signing keys: first " + hfv::audit::audit_key_id(after->first)) != std::string::npos);
  CHECK(verified.output.find("key-history.json: the log's (1 transitions)") != std::string::npos);
  // A published history that is not the log's (the transition left out) fails.
  const fs::path stale = stack.dir.path / "stale-history.json";
  hfv::audit::KeyHistory only_first;
  only_first.first = after->first;
  std::ofstream(stale) << hfv::audit::key_history_json(only_first).dump();
  const Ran mismatch = run(std::string(BROKERCTL_BIN) + " audit verify --no-witnesses --config " + quote(config_file) +
                           " --history " + quote(stale));
  INFO(mismatch.output);
  CHECK(mismatch.exit_code != 0);
  CHECK(mismatch.output.find("is not the log's") != std::string::npos);

  const fs::path exported = stack.dir.path / "export.ndjson";
  const Ran exporting = run(std::string(BROKERCTL_BIN) + " audit export --config " + quote(config_file) +
                            " --out " + quote(exported));
  INFO(exporting.output);
  REQUIRE(exporting.exit_code == 0);
  const Ran checked = run(std::string(BROKERCTL_BIN) + " audit verify-export " + quote(exported) + " --config " +
                          quote(config_file));
  INFO(checked.output);
  CHECK(checked.exit_code == 0);
  CHECK(checked.output.find("OK:") != std::string::npos);

  // Offline, from the first key (as a witness's operator checks it).
  const Ran pem = run(std::string(BROKERCTL_BIN) + " audit public-key --config " + quote(config_file));
  REQUIRE(pem.exit_code == 0);
  const fs::path pem_file = stack.dir.path / "audit-first.pem";
  std::ofstream(pem_file) << pem.output;
  const Ran offline = run(std::string(BROKERCTL_BIN) + " audit check-key-history " + quote(history_file) +
                          " --public-key " + quote(pem_file) + " --origin " +
                          quote(after->transitions[0].origin));
  INFO(offline.output);
  CHECK(offline.exit_code == 0);
  CHECK(offline.output.find("OK: 1 cross-signed transitions") != std::string::npos);
  CHECK(offline.output.find("retired vkey: ") != std::string::npos);
  // The transition signed by the new key only: refused.
  json forged = json::parse(read_file(history_file));
  forged["transitions"][0]["old_signature"] = forged["transitions"][0]["new_signature"];
  const fs::path forged_file = stack.dir.path / "forged-history.json";
  std::ofstream(forged_file) << forged.dump();
  const Ran refused = run(std::string(BROKERCTL_BIN) + " audit check-key-history " + quote(forged_file) +
                          " --public-key " + quote(pem_file));
  INFO(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("INVALID") != std::string::npos);

  const Ran history = run(std::string(BROKERCTL_BIN) + " audit key-history --config " + quote(config_file));
  INFO(history.output);
  REQUIRE(history.exit_code == 0);
  CHECK(history.output.find(new_key_id) != std::string::npos);
}
