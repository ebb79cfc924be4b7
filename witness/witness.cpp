// Witness (witness.hpp): the configuration, the state file and the
// add-checkpoint checks in the order c2sp.org/tlog-witness gives them.
#include "witness/witness.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/files.hpp"

namespace hfv::witness {

using nlohmann::json;
namespace note = audit::note;

namespace {

Error config_error(const std::string& field, const std::string& why) {
  return make_error("bad_config", field + ": " + why);
}

std::string read_text(const std::filesystem::path& file, bool& ok) {
  std::ifstream in(file, std::ios::binary);
  ok = bool(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path beside(const std::filesystem::path& config, const std::string& value) {
  const std::filesystem::path p(value);
  return p.is_absolute() ? p : config.parent_path() / p;
}

}  // namespace

Result<WitnessConfig> load_witness_config(const std::filesystem::path& file) {
  bool ok = false;
  const std::string text = read_text(file, ok);
  if (!ok) return config_error(file.string(), "cannot be read");
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return config_error(file.string(), "is not a JSON object");
  WitnessConfig c;
  for (const auto& [key, value] : doc.items()) {
    if (key != "name" && key != "key_file" && key != "state_file" && key != "listen" &&
        key != "port_file" && key != "logs") {
      return config_error(key, "unknown key");
    }
  }
  auto text_of = [&](const char* key, std::string& out, bool required) -> Status {
    const auto it = doc.find(key);
    if (it == doc.end()) return required ? Status(config_error(key, "required")) : Status();
    if (!it->is_string() || it->get<std::string>().empty()) return config_error(key, "must be a non-empty string");
    out = it->get<std::string>();
    return {};
  };
  std::string key_file, state_file, listen = "127.0.0.1:8480", port_file;
  if (auto s = text_of("name", c.name, true); !s) return s.error();
  if (!note::valid_key_name(c.name)) {
    return config_error("name", "must be printable ASCII without spaces or '+', e.g. audit-office.example/witness");
  }
  if (auto s = text_of("key_file", key_file, true); !s) return s.error();
  if (auto s = text_of("state_file", state_file, true); !s) return s.error();
  if (auto s = text_of("listen", listen, false); !s) return s.error();
  if (auto s = text_of("port_file", port_file, false); !s) return s.error();
  c.key_file = beside(file, key_file);
  c.state_file = beside(file, state_file);
  if (!port_file.empty()) c.port_file = beside(file, port_file);
  const auto colon = listen.rfind(':');
  unsigned port = 0;
  const char* port_end = listen.data() + listen.size();
  if (colon == std::string::npos || colon == 0 ||
      std::from_chars(listen.data() + colon + 1, port_end, port).ptr != port_end || port > 65535 ||
      colon + 1 == listen.size()) {
    return config_error("listen", "must be address:port, e.g. 127.0.0.1:8480");
  }
  c.listen_address = listen.substr(0, colon);
  c.port = static_cast<unsigned short>(port);
  const auto logs = doc.find("logs");
  if (logs == doc.end() || !logs->is_array() || logs->empty()) {
    return config_error("logs", "must be a non-empty array of {\"origin\", \"vkey\"}");
  }
  for (std::size_t i = 0; i < logs->size(); ++i) {
    const auto& entry = (*logs)[i];
    const std::string field = "logs[" + std::to_string(i) + "]";
    const bool one = entry.is_object() && entry.contains("vkey") && entry["vkey"].is_string();
    const bool list = entry.is_object() && entry.contains("vkeys") && entry["vkeys"].is_array() &&
                      !entry["vkeys"].empty();
    if (!entry.is_object() || entry.size() != 2 || !entry.contains("origin") || !entry["origin"].is_string() ||
        one == list) {
      return config_error(field, "must be {\"origin\": \"...\", \"vkey\": \"...\"} or {\"origin\": \"...\", "
                                 "\"vkeys\": [\"...\", ...]}");
    }
    WitnessedLog log;
    log.origin = entry["origin"].get<std::string>();
    if (!audit::valid_origin(log.origin)) return config_error(field + ".origin", "not a valid origin");
    const json vkeys = one ? json::array({entry["vkey"]}) : entry["vkeys"];
    for (std::size_t k = 0; k < vkeys.size(); ++k) {
      const std::string where = one ? field + ".vkey" : field + ".vkeys[" + std::to_string(k) + "]";
      if (!vkeys[k].is_string()) return config_error(where, "must be a string");
      auto vkey = note::parse_vkey(vkeys[k].get<std::string>());
      if (!vkey) return config_error(where, vkey.error().message);
      if (vkey->type != note::KeyType::kEd25519 || vkey->name != log.origin) {
        return config_error(where,
                            "must be the log's Ed25519 note key named after its origin "
                            "(brokerctl audit vkey prints it)");
      }
      if (k == 0) {
        log.key = *vkey;
      } else {
        log.other_keys.push_back(*vkey);
      }
    }
    for (const auto& other : c.logs) {
      if (other.origin == log.origin) return config_error(field + ".origin", "listed twice");
    }
    c.logs.push_back(std::move(log));
  }
  return c;
}

Witness::Witness(std::string name, crypto::Ed25519Signer signer, std::vector<WitnessedLog> logs,
                 std::filesystem::path state_file)
    : name_(std::move(name)),
      signer_(std::move(signer)),
      logs_(std::move(logs)),
      state_file_(std::move(state_file)) {}

Result<Witness> Witness::open(std::string name, crypto::Ed25519Signer signer,
                              std::vector<WitnessedLog> logs, std::filesystem::path state_file) {
  Witness w(std::move(name), std::move(signer), std::move(logs), std::move(state_file));
  std::error_code ec;
  if (!std::filesystem::exists(w.state_file_, ec)) {
    if (ec) return make_error("bad_state", "state file " + w.state_file_.string() + ": " + ec.message());
    return w;
  }
  auto bad = [&](const std::string& why) {
    return make_error("bad_state", "state file " + w.state_file_.string() + ": " + why);
  };
  bool ok = false;
  const json doc = json::parse(read_text(w.state_file_, ok), nullptr, false);
  if (!ok) return bad("cannot be read");
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kStateFormat ||
      !doc.contains("logs") || !doc["logs"].is_object()) {
    return bad("malformed");
  }
  for (const auto& [origin, entry] : doc["logs"].items()) {
    if (!entry.is_object() || !entry.contains("checkpoint") || !entry["checkpoint"].is_string()) {
      return bad("malformed entry");
    }
    auto parsed = note::parse_note(entry["checkpoint"].get<std::string>());
    if (!parsed) return bad(parsed.error().message);
    auto checkpoint = audit::parse_checkpoint(parsed->text);
    if (!checkpoint || checkpoint->origin != origin) return bad("an entry's checkpoint is malformed");
    w.seen_[origin] = Seen{checkpoint->size, checkpoint->root, entry["checkpoint"].get<std::string>()};
  }
  return w;
}

Status Witness::save(const std::map<std::string, Seen>& state) const {
  json logs = json::object();
  for (const auto& [origin, seen] : state) {
    logs[origin] = {{"size", seen.size}, {"checkpoint", seen.checkpoint}};
  }
  const json doc = {{"format", kStateFormat}, {"logs", logs}};
  // Temporary file, fsync, rename, fsync of the folder (common/files.hpp).
  return replace_file_atomically(state_file_, doc.dump(2) + "\n", 0644);
}

note::Verifier Witness::verifier() const {
  return note::make_verifier(name_, note::KeyType::kCosignatureV1, signer_.public_key());
}

WitnessAnswer Witness::add_checkpoint(std::string_view body, std::uint64_t now) {
  auto refuse = [](unsigned status, std::string why) {
    WitnessAnswer a;
    a.status = status;
    a.body = why + "\n";
    a.refusal = std::move(why);
    return a;
  };
  auto request = audit::parse_add_checkpoint(body);
  if (!request) return refuse(400, request.error().message);
  auto parsed = note::parse_note(request->checkpoint_note);
  if (!parsed) return refuse(400, parsed.error().message);
  auto checkpoint = audit::parse_checkpoint(parsed->text);
  if (!checkpoint) return refuse(400, checkpoint.error().message);
  const auto log = std::find_if(logs_.begin(), logs_.end(),
                                [&](const WitnessedLog& l) { return l.origin == checkpoint->origin; });
  if (log == logs_.end()) return refuse(404, "unknown origin");
  std::vector<note::Verifier> trusted{log->key};
  trusted.insert(trusted.end(), log->other_keys.begin(), log->other_keys.end());
  auto verified = note::verify_note(*parsed, trusted);
  if (!verified) return refuse(403, "not signed by the log's key: " + verified.error().message);
  if (request->old_size > checkpoint->size) {
    return refuse(400, "the old size " + std::to_string(request->old_size) +
                           " is above the checkpoint's size " + std::to_string(checkpoint->size));
  }
  const auto seen = seen_.find(checkpoint->origin);
  const std::uint64_t latest = seen == seen_.end() ? 0 : seen->second.size;
  if (request->old_size != latest) {
    WitnessAnswer a;
    a.status = 409;
    a.content_type = "text/x.tlog.size";
    a.body = std::to_string(latest) + "\n";
    a.refusal = "old size " + std::to_string(request->old_size) + ", latest cosigned size " +
                std::to_string(latest);
    return a;
  }
  if (checkpoint->size == 0 && checkpoint->root != audit::merkle::empty_root()) {
    return refuse(422, "a checkpoint of size 0 must have the empty tree's root");
  }
  if (request->old_size == 0) {
    if (!request->proof.empty()) return refuse(422, "a consistency proof from size 0 must be empty");
  } else if (!audit::merkle::verify_consistency(request->old_size, checkpoint->size,
                                                 seen->second.root, checkpoint->root,
                                                 request->proof)) {
    return refuse(422, request->old_size == checkpoint->size
                           ? "same size as the latest cosigned checkpoint, other root"
                           : "the consistency proof from size " + std::to_string(request->old_size) +
                                 " does not verify");
  }
  // Cosign, then persist the cosigned checkpoint before answering.
  const std::string cosignature = note::cosign(signer_, name_, parsed->text, now);
  std::string stored = parsed->text + "\n";
  for (const auto& s : parsed->signatures) {
    if (s.name == log->key.name && s.key_id == log->key.key_id) stored += s.line;
  }
  stored += cosignature;
  auto next = seen_;
  next[checkpoint->origin] = Seen{checkpoint->size, checkpoint->root, stored};
  if (auto s = save(next); !s) return refuse(500, "the witness state could not be saved");
  seen_ = std::move(next);
  WitnessAnswer a;
  a.body = cosignature;
  return a;
}

WitnessAnswer Witness::latest(std::string_view origin_hash_hex) const {
  for (const auto& [origin, seen] : seen_) {
    if (audit::origin_hash(origin) == origin_hash_hex) {
      WitnessAnswer a;
      a.body = seen.checkpoint;
      return a;
    }
  }
  WitnessAnswer a;
  a.status = 404;
  a.body = "no checkpoint cosigned for that origin\n";
  a.refusal = "unknown origin hash";
  return a;
}

}  // namespace hfv::witness
