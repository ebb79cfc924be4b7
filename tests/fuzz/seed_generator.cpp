// Writes the fuzz targets' generated seeds from the project's own code
// (tests/fuzz/make-seeds builds and runs it in build/dev): agency answers as
// the simulator gives them to the adapters' own requests, and a real signed
// audit export with its public key, C2SP checkpoints and add-checkpoint
// bodies signed with fuzz_checkpoint's fixed keys. Usage: hfv-fuzz-seeds <tests/fuzz dir>.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "adapters/bank/bank_adapter.hpp"
#include "adapters/business/business_adapter.hpp"
#include "adapters/hukou/hukou_adapter.hpp"
#include "adapters/insurance/insurance_adapter.hpp"
#include "adapters/internet_finance/internet_finance_adapter.hpp"
#include "adapters/provident_fund/provident_fund_adapter.hpp"
#include "adapters/real_estate/real_estate_adapter.hpp"
#include "adapters/securities/securities_adapter.hpp"
#include "adapters/social_insurance/social_insurance_adapter.hpp"
#include "adapters/tax/tax_adapter.hpp"
#include "adapters/vehicle/vehicle_adapter.hpp"
#include "audit/audit_log.hpp"
#include "audit/checkpoint.hpp"
#include "audit/merkle.hpp"
#include "audit/key_history.hpp"
#include "audit/keyring.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"
#include "simulator/agency.hpp"
#include "tests/fuzz/checkpoint_key.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One person with a few records of every source, in the shapes the
// simulator's validators accept (tests/adapters/conformance_test.cpp has
// the long form).
json seed_person() {
  json p;
  p["hukou"] = {{"name", "张三"}, {"division", "110101"}, {"status", "moved"}};
  p["bank"] = {{{"bank", "银行甲"}, {"account", "6222020200112233445"}, {"balance", "1234567.89"}, {"as_of", "2026-10-11"}},
               {{"bank", "银行乙"}, {"account", "62220"}, {"balance", "0.5"}, {"as_of", "2024-02-29"}}};
  p["securities"] = {{{"account", "A001000"}, {"market_value", "12345.00"}, {"as_of", "2026-10-31"}, {"market", "SH"}},
                     {{"account", "A001001"}, {"market_value", "0"}, {"as_of", "2026-10-31"}, {"market", "SZ"}}};
  p["insurance"] = {{{"policy", "P2020100"}, {"insurer", "保险甲"}, {"cash_value", "99.00"}, {"as_of", "2026-09-30"}}};
  p["internet_finance"] = {{{"platform", "平台甲"}, {"account", "U5000"}, {"balance", "3.01"}, {"as_of", "2026-11-01"}}};
  p["tax"] = {{{"period", "2026-09"}, {"item", "wages"}, {"amount", "12345.60"}, {"tax_withheld", "1234.56"}},
              {{"period", "2026-10"}, {"item", "business"}, {"amount", "500"}},
              {{"period", "2026-08"}, {"item", "property"}, {"amount", "1000000.00"}, {"tax_withheld", "0"}},
              {{"period", "2024-02"}, {"item", "other"}, {"amount", "0"}}};
  p["social_insurance"] = {
      {"contributions",
       {{{"period", "2026-08"}, {"type", "employee_pension"}, {"base", "5000"}, {"personal", "400"}},
        {{"period", "2026-09"}, {"type", "medical"}, {"base", "5000.00"}, {"personal", "100.5"}},
        {{"period", "2026-10"}, {"type", "work_injury"}, {"base", "5000.00"}}}},
      {"benefits",
       {{{"period", "2026-10"}, {"type", "unemployment"}, {"amount", "1500"}},
        {{"period", "2026-09"}, {"type", "residents_pension"}, {"amount", "236.00"}, {"basic_part", "188.5"}},
        {{"period", "2026-08"}, {"type", "employee_pension"}, {"amount", "3100.00"}}}}};
  p["real_estate"] = {{{"cert_no", "京(2020)东城区不动产权第0012300号"}, {"use", "residential"}, {"area_m2", "50.2"}, {"share", 33}},
                      {{"cert_no", "京(2020)东城区不动产权第0012301号"}, {"use", "commercial"}, {"area_m2", "120"}, {"share", 100}}};
  p["vehicle"] = {{{"plate", "京A12340"}, {"type", "car"}, {"purchase_price", "86000.12"}, {"registered", "2019-05-01"}},
                  {{"plate", "京A12341"}, {"type", "motorcycle"}, {"purchase_price", "9000"}, {"registered", "2019-05-02"}, {"mobility_aid", true}},
                  {{"plate", "京A12342"}, {"type", "truck"}, {"purchase_price", "300000.00"}, {"registered", "2020-01-01"}}};
  p["business"] = {{{"uscc", "91110101MA01000000"}, {"role", "legal_representative"}, {"subscribed_capital", "123456.78"}, {"status", "active"}},
                   {{"uscc", "91110101MA01000001"}, {"role", "shareholder"}, {"subscribed_capital", "1000000000.00"}, {"status", "revoked"}},
                   {{"uscc", "91110101MA01000002"}, {"role", "other"}, {"subscribed_capital", "0"}, {"status", "cancelled"}}};
  p["provident_fund"] = {{"balance", "23456.78"}, {"monthly_deposit", "860.5"}};
  return p;
}

struct AgencyUnderTest {
  const char* name;
  hfv::adapters::PagedAgency agency;
};

// The adapter asks, the simulator answers, the adapter reads: each answer
// becomes "<status> <page>\n<body>" (tests/fuzz/fuzz_input.hpp), following
// continuation tokens up to a few pages.
void answers(const fs::path& corpus, const hfv::sim::Dataset& dataset, const std::string& label,
             const std::vector<std::string>& persons) {
  namespace a = hfv::adapters;
  const std::vector<AgencyUnderTest> list = {
      {"bank", a::bank::agency()},         {"business", a::business::agency()},
      {"hukou", a::hukou::agency()},       {"insurance", a::insurance::agency()},
      {"internet_finance", a::internet_finance::agency()},
      {"provident_fund", a::provident_fund::agency()},
      {"real_estate", a::real_estate::agency()}, {"securities", a::securities::agency()},
      {"social_insurance", a::social_insurance::agency()}, {"tax", a::tax::agency()},
      {"vehicle", a::vehicle::agency()}};
  for (const auto& [name, agency] : list) {
    const auto* sim = hfv::sim::find_agency(name);
    if (sim == nullptr) throw std::runtime_error(std::string("no simulated agency ") + name);
    int n = 0;
    for (const auto& id : persons) {
      a::MemberQuery m;
      m.id_number = id;
      m.query_id = "seed-" + std::to_string(n);
      std::string token;
      for (int page = 0; page < 3; ++page) {
        const std::string request = agency.request_body(m, token);
        const auto answer = sim->answer(dataset, hfv::sim::AgencyRequest{"POST", agency.path, "application/json", request});
        const long page_no = token.empty() ? (std::string_view(name) == "insurance" || std::string_view(name) == "social_insurance" ? 0 : 1) : std::stol(token);
        const std::string seed = std::to_string(answer.reply.status) + " " + std::to_string(page_no) + "\n" + answer.reply.body;
        write(corpus / ("fuzz_answer_" + std::string(name)) / (label + "-" + std::to_string(n) + "-p" + std::to_string(page)), seed);
        auto parsed = agency.parse_page(answer.reply.status, answer.reply.body, token);
        if (!parsed || !parsed->next || parsed->not_found) break;
        token = *parsed->next;
        if (parsed->records.holdings.empty() && parsed->records.income.empty() && parsed->records.contributions.empty() &&
            parsed->records.real_estate.empty() && parsed->records.vehicles.empty() && parsed->records.businesses.empty()) {
          break;
        }
      }
      ++n;
    }
  }
}

// Lines of an NDJSON text, without their newlines.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The export made of `lines` (header and records, no end line), ended and
// signed as VerifiableLog::export_ndjson ends one.
std::string signed_export(const std::vector<std::string>& lines, const hfv::crypto::Ed25519Signer& signer) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  const std::string digest = hfv::crypto::to_hex(hfv::crypto::sha256(out));
  const auto signature = signer.sign("hfv-audit-export/v1\n" + digest + "\n");
  out += json{{"type", "end"},
              {"records", lines.size() - 1},
              {"sha256", digest},
              {"signature", hfv::crypto::to_hex(signature)}}.dump() +
         "\n";
  return out;
}

// Exports damaged one way each, signed again with the log's key (so each
// reaches the check after the signature's), plus a few left unsigned: the
// branches of audit::verify_export a fuzzer cannot reach (it cannot sign).
void export_variants(const fs::path& corpus, const std::string& all, const std::string& scoped,
                     const hfv::crypto::Ed25519Signer& signer) {
  auto body = lines_of(all);
  body.pop_back();  // the end line
  auto edit = [&](const std::string& label, auto change, bool sign = true) {
    auto lines = body;
    change(lines);
    std::string text;
    if (sign) {
      text = signed_export(lines, signer);
    } else {
      for (const auto& line : lines) text += line + "\n";
    }
    write(corpus / ("x-" + label + ".ndjson"), text);
  };
  auto record = [](std::vector<std::string>& lines, std::size_t i) { return json::parse(lines.at(i)); };
  edit("resigned", [](auto&) {});
  edit("no-end", [](auto&) {}, false);
  edit("head-signature", [&](auto& lines) {
    json h = record(lines, 0);
    std::string sig = h["tree_head"]["signature"];
    sig[0] = sig[0] == '0' ? '1' : '0';
    h["tree_head"]["signature"] = sig;
    lines[0] = h.dump();
  });
  {  // a record changed after signing
    std::string text = signed_export(body, signer);
    text.replace(text.find("seed row"), 8, "seed rox");
    write(corpus / "x-unsigned-change.ndjson", text);
  }
  edit("line-not-json", [](auto& lines) { lines[2] = "{\"seq\": 2,"; });
  edit("line-array", [](auto& lines) { lines[2] = "[2]"; });
  edit("record-missing", [](auto& lines) { lines.erase(lines.begin() + 3); });
  edit("no-envelope", [&](auto& lines) {
    json r = record(lines, 1);
    r.erase("envelope");
    lines[1] = r.dump();
  });
  edit("envelope-seq", [&](auto& lines) {
    json r = record(lines, 1);
    json e = json::parse(r["envelope"].get<std::string>());
    e["seq"] = 7;
    r["envelope"] = e.dump();
    lines[1] = r.dump();
  });
  edit("envelope-not-json", [&](auto& lines) {
    json r = record(lines, 1);
    r["envelope"] = "{";
    lines[1] = r.dump();
  });
  edit("personal", [&](auto& lines) {
    json r = record(lines, 2);
    r["personal"] = "changed";
    lines[2] = r.dump();
  });
  edit("unknown-type", [&](auto& lines) {
    json r = record(lines, 1);
    r["type"] = "summary";
    lines[1] = r.dump();
  });
  edit("no-proof", [&](auto& lines) {
    json r = record(lines, 1);
    r.erase("proof");
    lines[1] = r.dump();
  });
  edit("proof-malformed", [&](auto& lines) {
    json r = record(lines, 1);
    r["proof"] = json::array({"zz"});
    lines[1] = r.dump();
  });
  edit("proof-wrong", [&](auto& lines) {
    json r = record(lines, 1);
    std::string h = r["proof"].at(0);
    h[0] = h[0] == '0' ? '1' : '0';
    r["proof"][0] = h;
    lines[1] = r.dump();
  });
  edit("ends-early", [](auto& lines) { lines.pop_back(); });
  edit("to-seq", [&](auto& lines) {
    json h = record(lines, 0);
    h["to_seq"] = 9;
    lines[0] = h.dump();
  });
  // The scoped export has a withheld line: without its leaf hash.
  body = lines_of(scoped);
  body.pop_back();
  edit("withheld-no-hash", [&](auto& lines) {
    for (auto& line : lines) {
      json r = json::parse(line);
      if (r.value("type", "") == "withheld") {
        r.erase("leaf_hash");
        line = r.dump();
        return;
      }
    }
  });
}

// A real export: records of several kinds, one of them withheld from the
// exporter's scope, a published head; the key written for the target.
void audit_export(const fs::path& fuzz_dir) {
  const fs::path dir = fs::temp_directory_path() / ("hfv-fuzz-seeds-" + std::to_string(::getpid()));
  fs::create_directories(dir / "anchor");
  const auto kek = hfv::crypto::SecretKey::random();
  hfv::audit::AuditLogOptions options;
  options.anchor_file = dir / "anchor" / "audit.anchor";
  auto log = hfv::audit::AuditLog::open(dir / "audit.db", kek, options);
  if (!log) throw std::runtime_error(log.error().message);
  std::vector<hfv::audit::AuditRecord> rows;
  // Both forms of an agency's answer: the older per-pair "agency.query"
  // (still in logs written before) and the "agency.answers" list.
  const char* actions[] = {"verification.request", "agency.query", "agency.answers", "verification.report",
                           "request.refused", "agency.query"};
  for (int i = 0; i < 6; ++i) {
    hfv::audit::AuditRecord r;
    r.action = actions[i];
    r.principal = "demo-case-system";
    r.case_id = "CASE-" + std::to_string(i % 2);
    r.request_id = "v-" + std::to_string(i);
    r.jurisdiction = i == 4 ? "610102" : "230102";
    r.member = hfv::crypto::to_hex(hfv::crypto::sha256("member-" + std::to_string(i)));
    r.source = i == 1 ? "bank" : (i == 2 ? "tax" : "");
    r.status = i == 4 ? "refused" : "ok";
    r.latency_ms = i == 1 ? 42 : -1;
    r.detail = "seed row " + std::to_string(i);
    if (i == 2) {
      r.answers = {{"tax", "ok", 12, hfv::crypto::to_hex(hfv::crypto::sha256("tax answer")), "attempts=1"},
                   {"bank", "timeout", 3000, "", "attempts=3 \"quoted\" detail"},
                   {"vehicle", "not_found", 0, "", ""}};
    }
    rows.push_back(r);
  }
  if (auto s = (*log)->append_blocking(rows); !s) throw std::runtime_error(s.error().message);
  if (auto h = (*log)->publish_head(); !h) throw std::runtime_error(h.error().message);
  if (auto s = (*log)->append_blocking({rows[0], rows[3]}); !s) throw std::runtime_error(s.error().message);
  if (auto h = (*log)->publish_head(); !h) throw std::runtime_error(h.error().message);
  const fs::path corpus = fuzz_dir / "corpus" / "fuzz_audit_export";
  auto all = [](const std::string&) { return true; };
  auto scoped = [](const std::string& envelope) { return envelope.find("610102") == std::string::npos; };
  const std::vector<std::tuple<std::string, std::int64_t, std::int64_t, bool>> ranges = {
      {"all", 1, 8, false}, {"scoped", 1, 8, true}, {"one", 3, 3, false}, {"tail", 5, 8, true}};
  std::map<std::string, std::string> exports;
  for (const auto& [label, from, to, scope] : ranges) {
    auto text = scope ? (*log)->export_ndjson(from, to, scoped) : (*log)->export_ndjson(from, to, all);
    if (!text) throw std::runtime_error(text.error().message);
    write(corpus / ("export-" + label + ".ndjson"), *text);
    exports[label] = *text;
  }
  auto keyring = hfv::audit::Keyring::load(hfv::audit::keyring_path(dir / "audit.db"), kek);
  if (!keyring) throw std::runtime_error(keyring.error().message);
  export_variants(corpus, exports["all"], exports["scoped"], keyring->signer());
  std::string header =
      "// Generated by tests/fuzz/make-seeds: the public key of the log that\n"
      "// signed the seed exports in corpus/fuzz_audit_export.\n#pragma once\n\n#include <array>\n#include <cstdint>\n\n"
      "namespace hfv::fuzz {\ninline constexpr std::array<std::uint8_t, 32> kExportKey = {";
  const auto& key = (*log)->public_key();
  for (std::size_t i = 0; i < key.size(); ++i) header += (i ? ", " : "") + std::to_string(key[i]);
  header += "};\n}  // namespace hfv::fuzz\n";
  write(fuzz_dir / "audit_export_key.hpp", header);
  log->reset();
  fs::remove_all(dir);
}


// tlog-witness add-checkpoint bodies and signed notes under the fixed keys
// of checkpoint_key.hpp: a first checkpoint (old 0), a grown tree with its
// real consistency proof, a cosigned note, extension lines, a verifier key;
// then one damaged variant per check the parsers make.
void checkpoints(const fs::path& fuzz_dir) {
  namespace note = hfv::audit::note;
  namespace merkle = hfv::audit::merkle;
  const fs::path corpus = fuzz_dir / "corpus" / "fuzz_checkpoint";
  const auto log = hfv::crypto::Ed25519Signer::from_seed(hfv::fuzz::kLogSeed);
  const auto witness = hfv::crypto::Ed25519Signer::from_seed(hfv::fuzz::kWitnessSeed);
  const std::string origin(hfv::fuzz::kLogOrigin);
  std::vector<merkle::Hash> leaves;
  for (int i = 0; i < 7; ++i) leaves.push_back(merkle::leaf_hash("record " + std::to_string(i)));
  auto tree = [&](std::uint64_t n) {
    return hfv::audit::Checkpoint{origin, n, merkle::root(std::span(leaves).first(n)), {}};
  };
  const std::string first = hfv::audit::signed_checkpoint(log, tree(3));
  const std::string grown = hfv::audit::signed_checkpoint(log, tree(7));
  const auto proof = merkle::consistency_proof(leaves, 3);
  write(corpus / "add-first", hfv::audit::add_checkpoint_body(0, {}, first));
  write(corpus / "add-grown", hfv::audit::add_checkpoint_body(3, proof, grown));
  write(corpus / "add-same", hfv::audit::add_checkpoint_body(7, {}, grown));
  const std::string cosigned =
      grown + note::cosign(witness, hfv::fuzz::kWitnessName, hfv::audit::checkpoint_text(tree(7)), 1764892800);
  write(corpus / "note-cosigned", cosigned);
  auto extended = tree(7);
  extended.extensions = {"extension one", "— not a signature"};
  write(corpus / "note-extensions", hfv::audit::signed_checkpoint(log, extended));
  write(corpus / "vkey-log", note::vkey_text(note::make_verifier(origin, note::KeyType::kEd25519, log.public_key())));
  write(corpus / "vkey-witness",
        note::vkey_text(note::make_verifier(std::string(hfv::fuzz::kWitnessName), note::KeyType::kCosignatureV1,
                                            witness.public_key())));
  // Damaged: one check each.
  const std::string grown_body = hfv::audit::add_checkpoint_body(3, proof, grown);
  write(corpus / "bad-old-line", "old 03\n\n" + first);
  write(corpus / "bad-no-blank", "old 0\n" + first.substr(0, first.find("\n\n")));
  write(corpus / "bad-proof-line", "old 3\nnot base64!\n\n" + grown);
  write(corpus / "bad-size", "old 0\n\n" + origin + "\n-1\n" + grown.substr(grown.find('\n', origin.size() + 1) + 1));
  std::string wrong_root = grown_body;
  wrong_root[grown_body.find('\n', grown_body.find(origin) + origin.size() + 1) + 1] ^= 1;
  write(corpus / "bad-root", wrong_root);
  std::string wrong_sig = cosigned;
  wrong_sig[cosigned.size() - 3] = wrong_sig[cosigned.size() - 3] == 'A' ? 'B' : 'A';
  write(corpus / "bad-signature", wrong_sig);
  write(corpus / "bad-control", "old 0\n\n" + origin + "\x01\n3\n" + first.substr(first.find('\n') + 3));
}

// Published signing-key histories: no rotation, one, two (keys from
// checkpoint_key.hpp's seeds), then one damaged variant per check.
void key_histories(const fs::path& fuzz_dir) {
  const fs::path corpus = fuzz_dir / "corpus" / "fuzz_key_history";
  const auto k0 = hfv::crypto::Ed25519Signer::from_seed(hfv::fuzz::kLogSeed);
  const auto k1 = hfv::crypto::Ed25519Signer::from_seed(hfv::fuzz::kWitnessSeed);
  const auto k2 = hfv::crypto::Ed25519Signer::from_seed(hfv::fuzz::fixed_seed(0x40));
  const std::string origin(hfv::fuzz::kLogOrigin);
  std::vector<hfv::audit::merkle::Hash> leaves;
  for (int i = 0; i < 9; ++i) leaves.push_back(hfv::audit::merkle::leaf_hash("record " + std::to_string(i)));
  auto root = [&](std::size_t n) { return hfv::audit::merkle::root(std::span(leaves).first(n)); };
  hfv::audit::KeyHistory history;
  history.first = k0.public_key();
  write(corpus / "none.json", hfv::audit::key_history_json(history).dump(2));
  history.transitions.push_back(
      hfv::audit::sign_key_transition(k0, k1, origin, 4, root(4), "2026-12-05T06:00:00.000Z"));
  write(corpus / "one.json", hfv::audit::key_history_json(history).dump(2));
  history.transitions.push_back(
      hfv::audit::sign_key_transition(k1, k2, origin, 9, root(9), "2026-12-05T07:00:00.000Z"));
  const json two = hfv::audit::key_history_json(history);
  write(corpus / "two.json", two.dump(2));
  auto variant = [&](const std::string& name, auto edit) {
    json j = two;
    edit(j);
    write(corpus / ("bad-" + name + ".json"), j.dump(2));
  };
  variant("format", [](json& j) { j["format"] = "hfv-audit-key-history/v0"; });
  variant("first-key", [](json& j) { j["first_key"] = std::string(64, '0'); });
  variant("no-transitions", [](json& j) { j.erase("transitions"); });
  variant("order", [](json& j) { std::swap(j["transitions"][0], j["transitions"][1]); });
  variant("size-down", [](json& j) { j["transitions"][1]["tree_size"] = 2; });
  variant("origin", [](json& j) { j["transitions"][1]["origin"] = "hfv/audit/other"; });
  variant("one-signature", [](json& j) { j["transitions"][0].erase("new_signature"); });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: hfv-fuzz-seeds <tests/fuzz dir>\n";
    return 2;
  }
  const fs::path fuzz_dir = argv[1];
  const fs::path source_dir = fuzz_dir.parent_path().parent_path();
  try {
    const std::string demo_text = slurp(source_dir / "demo" / "dataset.json");
    const auto demo = hfv::sim::parse_dataset(demo_text);
    std::vector<std::string> demo_persons;
    const json demo_doc = json::parse(demo_text);
    for (const auto& [id, records] : demo_doc["persons"].items()) demo_persons.push_back(id);
    demo_persons.push_back("110101199003070099");  // not in the dataset: each agency's "not found"
    answers(fuzz_dir / "corpus", demo, "demo", demo_persons);
    const json seed = {{"persons", {{"110101199003070011", seed_person()}}}};
    const auto rich = hfv::sim::parse_dataset(seed.dump());
    answers(fuzz_dir / "corpus", rich, "full", {"110101199003070011"});
    write(fuzz_dir / "corpus" / "fuzz_dataset" / "seed-person.json", seed.dump(1));
    audit_export(fuzz_dir);
    checkpoints(fuzz_dir);
    key_histories(fuzz_dir);
  } catch (const std::exception& e) {
    std::cerr << "hfv-fuzz-seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
