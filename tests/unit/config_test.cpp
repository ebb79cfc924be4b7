#include <catch2/catch.hpp>
#include <unistd.h>

#include <array>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "audit/checkpoint.hpp"
#include "broker/ops/config.hpp"
#include "temp_dir.hpp"

namespace b = hfv::broker;
using nlohmann::json;

namespace {
// A cosignature/v1 vkey (type 0x04) of the name w.example/w.
const std::string kWitnessVkey = [] {
  std::array<std::uint8_t, 32> key{};
  key.fill(7);
  return hfv::audit::note::vkey_text(
      hfv::audit::note::make_verifier("w.example/w", hfv::audit::note::KeyType::kCosignatureV1, key));
}();
json minimal() {
  return {{"listen", "127.0.0.1:0"},
          {"tls", {{"ca_file", "pki/ca.pem"}, {"cert_file", "pki/server.pem"}, {"key_file", "pki/server.key"}}},
          {"master_key_file", "keys/master.key"},
          {"signing_key_file", "keys/report-signing.key"},
          {"audit_db", "data/audit.db"},
          {"state_db", "data/state.db"},
          {"policies_dir", "/policies"},
          {"principals", json::array({{{"name", "cs"}, {"certificate_cn", "cs"}, {"role", "case_system"},
                                      {"jurisdictions", {"2301"}}}})}};
}
hfv::Result<b::Config> load(const hfv::testing::TempDir& dir, const json& j) {
  std::ofstream(dir.path / "brokerd.json") << j.dump();
  return b::load_config(dir.path / "brokerd.json");
}
}  // namespace

TEST_CASE("unit: Config resolves relative paths against its own folder", "[config]") {
  hfv::testing::TempDir dir;
  auto c = load(dir, minimal());
  REQUIRE(c.ok());
  CHECK(c->storage.master_key_file == dir.path / "keys/master.key");
  CHECK(c->verification.policies_dir == "/policies");
  CHECK(c->server.listen_port == 0);
  REQUIRE(c->principal_for_cn("cs") != nullptr);
  CHECK(c->principal_for_cn("cs")->covers("230102"));
  CHECK_FALSE(c->principal_for_cn("cs")->covers("110108"));
  CHECK(c->principal_for_cn("nobody") == nullptr);
}

TEST_CASE("unit: A principal's scope is the division prefix its jurisdictions share, and records without one are for the whole centre only",
          "[config]") {
  using hfv::broker::common_division_prefix;
  CHECK(common_division_prefix({"230102", "230103"}) == "2301");
  CHECK(common_division_prefix({"230102", "231000"}) == "23");  // 2301 and 2310: two digits at a time
  CHECK(common_division_prefix({"2301", "31"}).empty());
  CHECK(common_division_prefix({"310000"}) == "310000");
  CHECK(common_division_prefix({}).empty());
  hfv::broker::Principal city;
  city.jurisdictions = {"2301"};
  CHECK(city.scope() == "2301");
  CHECK(city.sees("230102"));
  CHECK(city.sees("2301"));
  CHECK_FALSE(city.sees("23"));  // a province-wide record is not one city's
  CHECK_FALSE(city.sees("310000"));
  CHECK_FALSE(city.sees(""));
  hfv::broker::Principal centre = city;
  centre.whole_centre = true;
  CHECK(centre.sees(""));
  CHECK_FALSE(centre.sees("310000"));
}

TEST_CASE("unit: Config errors name the key", "[config]") {
  hfv::testing::TempDir dir;
  struct Case {
    std::function<void(json&)> mutate;
    const char* key;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j["colour"] = 1; }, "colour: unknown key"},
      {[](json& j) { j.erase("master_key_file"); }, "master_key_file: missing"},
      {[](json& j) { j["listen"] = "127.0.0.1"; }, "listen:"},
      {[](json& j) { j["listen"] = "127.0.0.1:70000"; }, "listen:"},
      {[](json& j) { j["principals"][0]["role"] = "god"; }, "principals[0].role"},
      {[](json& j) { j["principals"][0]["jurisdictions"] = {"230"}; }, "principals[0].jurisdictions"},
      {[](json& j) { j["principals"].push_back(j["principals"][0]); }, "principals[1].certificate_cn"},
      {[](json& j) { j["principals"][0]["whole_centre"] = "yes"; }, "principals[0].whole_centre: must be true or false"},
      {[](json& j) { j["principals"][0]["whole_centre"] = true; },  // principals[0] is a case system
       "principals[0].whole_centre: only a supervisor or admin"},
      {[](json& j) { j["verification_deadline_ms"] = 5; }, "verification_deadline_ms"},
      {[](json& j) { j["transfer_threads"] = 17; }, "transfer_threads: must be an integer from 0"},
      {[](json& j) { j["transfer_threads"] = -1; }, "transfer_threads: must be an integer from 0"},
      {[](json& j) { j["transfer_threads"] = "1"; }, "transfer_threads: must be an integer from 0"},
      {[](json& j) { j["agencies"] = {{"astrology", {{"base_url", "https://a"}}}}; }, "agencies.astrology: unknown agency"},
      {[](json& j) { j["agencies"] = {{"bank", {{"base_url", "ftp://a"}}}}; }, "agencies.bank: 'base_url'"},
      {[](json& j) { j["limits"] = 5; }, "limits: must be an object"},
      {[](json& j) { j["limits"] = {{"max_sockets", 5}}; }, "limits.max_sockets: unknown key"},
      {[](json& j) { j["limits"] = {{"max_connections", 0}}; }, "limits.max_connections: must be an integer"},
      {[](json& j) { j["limits"] = {{"max_connections", "64"}}; }, "limits.max_connections: must be an integer"},
      {[](json& j) { j["limits"] = {{"max_connections_per_address", 2.5}}; },
       "limits.max_connections_per_address: must be an integer"},
      {[](json& j) { j["limits"] = {{"max_connections", 10}, {"max_connections_per_address", 11}}; },
       "limits.max_connections_per_address: must not be above limits.max_connections (10)"},
      {[](json& j) { j["limits"] = {{"handshake_timeout_ms", 50}}; }, "limits.handshake_timeout_ms: must be an integer"},
      {[](json& j) { j["audit"] = {{"head_url", "https://h"}}; }, "audit.head_url: no longer supported"},
      {[](json& j) { j["audit"] = {{"origin", "hfv-audit-sth/v2"}}; }, "audit.origin:"},
      {[](json& j) { j["audit"] = {{"origin", "a b"}}; }, "audit.origin:"},
      {[](json& j) { j["audit"] = {{"witnesses", "w"}}; }, "audit.witnesses: must be an array"},
      {[](json& j) { j["audit"] = {{"witnesses", {{{"name", "w.example/w"}, {"url", "ftp://w"}, {"vkey", kWitnessVkey}}}}}; },
       "audit.witnesses[0].url"},
      {[](json& j) { j["audit"] = {{"witnesses", {{{"name", "w.example/other"}, {"url", "http://w"}, {"vkey", kWitnessVkey}}}}}; },
       "audit.witnesses[0].vkey: must be the witness's cosignature key"},
      {[](json& j) { j["audit"] = {{"witnesses", {{{"name", "w.example/w"}, {"url", "http://w"}, {"vkey", "w.example/w+00"}}}}}; },
       "audit.witnesses[0].vkey: verifier key"},
      {[](json& j) { j["audit"] = {{"witnesses", {{{"name", "w.example/w"}, {"url", "http://w"}}}}}; },
       "audit.witnesses[0]: must be"},
  };
  for (const auto& c : cases) {
    INFO(c.key);
    json j = minimal();
    c.mutate(j);
    auto loaded = load(dir, j);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find(c.key) != std::string::npos);
  }
}

TEST_CASE("unit: Config parses each section once, agencies included, with defaults derived from other keys",
          "[config]") {
  hfv::testing::TempDir dir;
  json j = minimal();
  j["agencies"] = {{"bank", {{"base_url", "https://bank.example/"}, {"max_concurrent", 7}, {"ca_file", "pki/b.pem"}}}};
  j["review"] = {{"batch_capacity_share", 0.25}, {"backoff_initial_ms", 300}};
  j["audit"] = {{"retention_days", 200}};
  auto c = load(dir, j);
  REQUIRE(c.ok());
  REQUIRE(c->agencies.size() == 1);
  const auto& bank = c->agencies.at("bank");
  CHECK(bank.base_url == "https://bank.example");  // trailing slash dropped
  CHECK(bank.resilience.max_concurrent == 7);
  CHECK(bank.tls.ca_file == (dir.path / "pki/b.pem").string());
  CHECK(c->review.capacity_share_permille == 250);
  CHECK(c->review.backoff_initial == std::chrono::milliseconds(300));
  CHECK(c->review.backoff_max == std::chrono::milliseconds(10000));
  CHECK(c->audit.retention_days == 200);
  CHECK(c->audit.anchor_file == dir.path / "data/audit.db.anchor");
  CHECK(c->storage.review_db == dir.path / "data/review.db");
  CHECK(c->review.output_dir == dir.path / "data/batches");
  CHECK(c->verification.transfer_threads == 0);  // the agencies' transfers on the I/O thread unless set

  j["transfer_threads"] = 2;
  auto threaded = load(dir, j);
  REQUIRE(threaded.ok());
  CHECK(threaded->verification.transfer_threads == 2);
}

TEST_CASE("unit: Config connection limits have defaults, and the per-address default is capped by the global",
          "[config]") {
  hfv::testing::TempDir dir;
  auto defaults = load(dir, minimal());
  REQUIRE(defaults.ok());
  CHECK(defaults->server.max_connections == 1024);
  CHECK(defaults->server.max_connections_per_address == 64);
  CHECK(defaults->server.handshake_timeout == std::chrono::seconds(10));
  json j = minimal();
  j["limits"] = {{"max_connections", 20}};
  auto capped = load(dir, j);
  REQUIRE(capped.ok());
  CHECK(capped->server.max_connections == 20);
  CHECK(capped->server.max_connections_per_address == 20);
  j["limits"] = {{"max_connections", 5000}, {"max_connections_per_address", 8}, {"handshake_timeout_ms", 120000}};
  auto both = load(dir, j);
  REQUIRE(both.ok());
  CHECK(both->server.handshake_timeout == std::chrono::seconds(120));
  CHECK(both->server.max_connections == 5000);
  CHECK(both->server.max_connections_per_address == 8);
}

namespace {
json on_postgresql(const std::string& conninfo) {
  json j = minimal();
  j.erase("state_db");
  j.erase("audit_db");
  j["audit"]["anchor_file"] = "run/audit.anchor";
  j["storage"] = {{"backend", "postgresql"}, {"postgresql", {{"conninfo", conninfo}, {"node", "broker-1"}}}};
  return j;
}
}  // namespace

TEST_CASE("unit: Config storage is sqlcipher by default and when named, with state_db and review.db as before",
          "[config][storage]") {
  hfv::testing::TempDir dir;
  auto absent = load(dir, minimal());
  REQUIRE(absent.ok());
  CHECK(absent->storage.backend == b::StorageBackend::kSqlcipher);
  CHECK(absent->storage.state_db == dir.path / "data/state.db");
  CHECK(absent->storage.review_db == dir.path / "data/review.db");
  CHECK_FALSE(b::audit_location(*absent).is_postgresql());
  CHECK(b::audit_location(*absent).file == absent->audit.db);
  json named = minimal();
  named["storage"] = {{"backend", "sqlcipher"}};
  named["review"] = {{"db", "other/review.db"}};
  auto c = load(dir, named);
  REQUIRE(c.ok());
  CHECK(c->storage.backend == b::StorageBackend::kSqlcipher);
  CHECK(c->storage.review_db == dir.path / "other/review.db");
  CHECK(b::storage_backend_name(c->storage.backend) == "sqlcipher");
}

TEST_CASE("unit: Config storage postgresql keeps the connection string and reads where the database is",
          "[config][storage]") {
  hfv::testing::TempDir dir;
  auto c = load(dir, on_postgresql("host=db-a,db-b port=5432,5433 dbname=hfv user=broker "
                                   "password='it\\'s a secret' target_session_attrs=read-write connect_timeout=5"));
  REQUIRE(c.ok());
  const auto& pg = c->storage.postgresql;
  CHECK(c->storage.backend == b::StorageBackend::kPostgresql);
  CHECK(b::storage_backend_name(c->storage.backend) == "postgresql");
  CHECK(pg.conninfo.starts_with("host=db-a,db-b "));  // handed to libpq unchanged
  CHECK(pg.node == "broker-1");
  CHECK(pg.hosts == "db-a,db-b");
  CHECK(pg.port == "5432,5433");
  CHECK(pg.dbname == "hfv");
  CHECK(pg.has_password);
  CHECK(pg.has_connect_timeout);
  CHECK(c->storage.state_db.empty());
  CHECK(c->review.output_dir == dir.path / "run/batches");  // beside the anchor
  CHECK(c->audit.db.empty());
  CHECK(c->audit.anchor_file == dir.path / "run/audit.anchor");
  CHECK(b::audit_location(*c).is_postgresql());
  CHECK(b::audit_location(*c).postgresql == pg.conninfo);
  CHECK(b::audit_location(*c).describe().find("secret") == std::string::npos);

  // The node defaults to the host name; a URI without a password is taken.
  json j = on_postgresql("postgresql://broker@db-a:5432,db-b/hfv?target_session_attrs=read-write");
  j["storage"]["postgresql"].erase("node");
  auto uri = load(dir, j);
  REQUIRE(uri.ok());
  std::array<char, 256> host{};
  REQUIRE(gethostname(host.data(), host.size() - 1) == 0);
  CHECK(uri->storage.postgresql.node == host.data());
  CHECK(uri->storage.postgresql.hosts == "db-a:5432,db-b");
  CHECK(uri->storage.postgresql.dbname == "hfv");
  CHECK_FALSE(uri->storage.postgresql.has_password);
  CHECK_FALSE(uri->storage.postgresql.has_connect_timeout);
}

TEST_CASE("unit: Config storage errors name the field and the reason, never the connection string",
          "[config][storage]") {
  hfv::testing::TempDir dir;
  struct Case {
    std::function<void(json&)> mutate;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j["storage"] = "postgresql"; }, "storage: must be an object"},
      {[](json& j) { j["storage"] = {{"backend", "oracle"}}; }, "storage.backend: unknown backend"},
      {[](json& j) { j["storage"] = {{"backend", 1}}; }, "storage.backend: must be"},
      {[](json& j) { j["storage"] = json::object(); }, "storage.backend: missing"},
      {[](json& j) { j["storage"] = {{"backend", "sqlcipher"}, {"cache", 1}}; }, "storage.cache: unknown key"},
      {[](json& j) { j["storage"] = {{"backend", "postgresql"}}; }, "storage.postgresql: missing"},
      {[](json& j) { j["storage"] = {{"backend", "postgresql"}, {"postgresql", "host=a"}}; },
       "storage.postgresql: must be an object"},
      {[](json& j) { j["storage"] = {{"backend", "sqlcipher"}, {"postgresql", {{"conninfo", "host=a"}}}}; },
       "storage.postgresql: only with"},
      {[](json& j) { j["storage"]["postgresql"].erase("conninfo"); }, "storage.postgresql.conninfo: missing"},
      {[](json& j) { j["storage"]["postgresql"]["conninfo"] = 5432; }, "storage.postgresql.conninfo: must be a string"},
      {[](json& j) { j["storage"]["postgresql"]["conninfo"] = "  "; }, "storage.postgresql.conninfo: must not be empty"},
      {[](json& j) { j["storage"]["postgresql"]["pool"] = 4; }, "storage.postgresql.pool: unknown key"},
      {[](json& j) { j["storage"]["postgresql"]["node"] = "node a"; }, "storage.postgresql.node: must be"},
      {[](json& j) { j["storage"]["postgresql"]["node"] = ""; }, "storage.postgresql.node: must be"},
      {[](json& j) { j["storage"]["postgresql"]["node"] = std::string(65, 'n'); }, "storage.postgresql.node: must be"},
      {[](json& j) { j["state_db"] = "data/state.db"; }, "state_db: not used with storage.backend"},
      {[](json& j) { j["review"] = {{"db", "data/review.db"}}; }, "review.db: not used with storage.backend"},
      {[](json& j) { j["audit_db"] = "data/audit.db"; }, "audit_db: not used with storage.backend"},
      {[](json& j) { j["audit"].erase("anchor_file"); }, "audit.anchor_file: missing: with storage.backend"},
  };
  for (const auto& c : cases) {
    INFO(c.expected);
    json j = on_postgresql("host=db dbname=hfv");
    c.mutate(j);
    auto loaded = load(dir, j);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find(c.expected) != std::string::npos);
  }
  // Connection strings libpq would refuse with a piece of them in its
  // message: refused here, by field and reason, without the piece.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"host=db password=Sec retPW", "a word without \"=\" after option password"},
      {"host=db password=Sec retPW=x", "an option libpq does not know after option password"},
      {"host=db password='SecretPW", "an unterminated quoted value of option password"},
      {"SecretPW", "a word without \"=\" at its start"},
      {"dbname='host=x password=SecretPW'", "its dbname is a connection string itself"},
      {"postgresql://broker:SecretPW@db/hfv", "must not hold a password in a postgresql:// URI"},
      {"postgres://db/hfv?user=broker&pass%77ord=SecretPW", "must not hold a password in a postgresql:// URI"},
      {"postgresql://db/hfv?sslpassword=SecretPW", "must not hold a password in a postgresql:// URI"},
  };
  for (const auto& [conninfo, reason] : refused) {
    INFO(conninfo);
    auto loaded = load(dir, on_postgresql(conninfo));
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find("storage.postgresql.conninfo: ") != std::string::npos);
    CHECK(loaded.error().message.find(reason) != std::string::npos);
    CHECK(loaded.error().message.find("Secret") == std::string::npos);
    CHECK(loaded.error().message.find("retPW") == std::string::npos);
  }
}

TEST_CASE("unit: a principal is bound to its certificate's subject, issuer or key, and the bindings are checked at load",
          "[config][identity]") {
  hfv::testing::TempDir dir;
  json j = minimal();
  j["principals"][0]["subject"] = "CN=cs,OU=低保科,O=哈尔滨市民政局\\, 救助";
  j["principals"].push_back({{"name", "sub"},
                             {"certificate_cn", "sub"},
                             {"role", "supervisor"},
                             {"jurisdictions", {"2301"}},
                             {"issuer", "CN=Sub CA,O=Centre"},
                             {"spki_sha256", {std::string(64, 'A'), "bb:" + std::string(62, 'b').insert(2, ":")}}});
  j["principals"].push_back({{"name", "plain"}, {"certificate_cn", "plain"}, {"role", "case_system"},
                             {"jurisdictions", {"2301"}}});
  auto c = load(dir, j);
  REQUIRE(c.ok());
  CHECK(c->server.verify_depth == 1);
  const auto& sub = *c->principal_for_cn("sub");
  REQUIRE(sub.spki_sha256.size() == 2);
  CHECK(sub.spki_sha256[0] == std::string(64, 'a'));
  CHECK(sub.spki_sha256[1] == std::string(64, 'b'));

  // The certificate of the case system as configured, from the centre's CA.
  hfv::crypto::PeerCertificate peer;
  peer.subject_cn = "cs";
  peer.subject_cn_count = 1;
  peer.subject = "CN=cs,OU=低保科,O=哈尔滨市民政局\\, 救助";
  peer.issuer = "CN=Centre CA,O=Centre";
  peer.spki_sha256 = std::string(64, 'c');
  peer.client_auth = true;
  peer.chain_length = 2;
  CHECK(c->principal_for(peer) == c->principal_for_cn("cs"));
  auto other = peer;
  other.subject = "CN=cs,O=Elsewhere";  // same CN, another subject
  CHECK(c->principal_for(other) == nullptr);
  other = peer;
  other.chain_length = 3;  // from a subordinate CA: tls.verify_depth 1
  CHECK(c->principal_for(other) == nullptr);
  other = peer;
  other.client_auth = false;
  CHECK(c->principal_for(other) == nullptr);
  other = peer;
  other.subject_cn.clear();
  other.subject_cn_count = 2;
  CHECK(c->principal_for(other) == nullptr);

  // CN alone: any subject, but only from the centre's own CA.
  auto plain = peer;
  plain.subject_cn = "plain";
  plain.subject = "CN=plain,O=Anything";
  CHECK(c->principal_for(plain) == c->principal_for_cn("plain"));
  c->server.verify_depth = 2;
  plain.chain_length = 3;
  CHECK(c->principal_for(plain) == nullptr);

  // Issuer and pinned keys: a deeper chain once verify_depth allows it.
  auto deep = peer;
  deep.subject_cn = "sub";
  deep.subject = "CN=sub,O=Centre";
  deep.issuer = "CN=Sub CA,O=Centre";
  deep.spki_sha256 = std::string(64, 'b');
  deep.chain_length = 3;
  CHECK(c->principal_for(deep) == c->principal_for_cn("sub"));
  deep.spki_sha256 = std::string(64, 'd');  // another key
  CHECK(c->principal_for(deep) == nullptr);
  deep.spki_sha256 = std::string(64, 'a');
  deep.issuer = "CN=Centre CA,O=Centre";  // the right key, another issuer
  CHECK(c->principal_for(deep) == nullptr);
  c->server.verify_depth = 1;
  deep.issuer = "CN=Sub CA,O=Centre";
  CHECK(c->principal_for(deep) == nullptr);

  auto refused = [&](const std::function<void(json&)>& edit, const std::string& key) {
    json bad = minimal();
    edit(bad);
    auto r = load(dir, bad);
    INFO(key << ": " << (r.ok() ? std::string("loaded") : r.error().message));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(key) != std::string::npos);
  };
  auto principal = [](json& config) -> json& { return config["principals"][0]; };
  refused([&](json& b) { principal(b)["subject"] = "CN=other,O=x"; }, "principals[0].subject");
  refused([&](json& b) { principal(b)["subject"] = "CN=cs,CN=x"; }, "principals[0].subject");
  refused([&](json& b) { principal(b)["subject"] = "O=x"; }, "principals[0].subject");
  refused([&](json& b) { principal(b)["subject"] = "subject=CN=cs"; }, "principals[0].subject");
  refused([&](json& b) { principal(b)["subject"] = "CN=cs,"; }, "principals[0].subject");
  refused([&](json& b) { principal(b)["subject"] = "cs"; }, "principals[0].subject");
  refused([&](json& b) { principal(b)["subject"] = 1; }, "principals[0].subject");
  refused([&](json& b) { principal(b)["issuer"] = ""; }, "principals[0].issuer");
  refused([&](json& b) { principal(b)["spki_sha256"] = json::array(); }, "principals[0].spki_sha256");
  refused([&](json& b) { principal(b)["spki_sha256"] = {"abc"}; }, "principals[0].spki_sha256");
  refused([&](json& b) { principal(b)["spki_sha256"] = std::string(64, 'a'); }, "principals[0].spki_sha256");
  refused([&](json& b) { b["tls"]["verify_depth"] = 0; }, "tls.verify_depth");
  refused([&](json& b) { b["tls"]["verify_depth"] = 9; }, "tls.verify_depth");
  refused([&](json& b) { b["tls"]["verify_depth"] = "2"; }, "tls.verify_depth");
  json two = minimal();
  two["tls"]["verify_depth"] = 2;
  principal(two)["subject"] = "CN=c\\73,O=escaped";  // \73 is "s"
  auto loaded = load(dir, two);
  REQUIRE(loaded.ok());
  CHECK(loaded->server.verify_depth == 2);
}

TEST_CASE("unit: Config audit witnesses are read with their keys, and the origin is optional", "[config]") {
  hfv::testing::TempDir dir;
  json j = minimal();
  j["audit"] = {{"origin", "hfv.example/harbin/audit"},
                {"witnesses", {{{"name", "w.example/w"}, {"url", "http://127.0.0.1:8480/"}, {"vkey", kWitnessVkey}}}}};
  auto loaded = load(dir, j);
  REQUIRE(loaded.ok());
  CHECK(loaded->audit.origin == "hfv.example/harbin/audit");
  REQUIRE(loaded->audit.witnesses.size() == 1);
  CHECK(loaded->audit.witnesses[0].url == "http://127.0.0.1:8480");  // no final '/'
  CHECK(loaded->audit.witnesses[0].key.type == hfv::audit::note::KeyType::kCosignatureV1);
  auto plain = load(dir, minimal());
  REQUIRE(plain.ok());
  CHECK(plain->audit.origin.empty());
  CHECK(plain->audit.witnesses.empty());
}
