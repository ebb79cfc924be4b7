#include "broker/verification/report_key_history.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "common/time.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

Error history_error(std::size_t index, const std::string& what) {
  return make_error("bad_history",
                    "report key history: entry " + std::to_string(index) + ": " + what);
}

// RFC 3339 UTC with milliseconds, exactly as utc_timestamp writes it, so
// that two of them compare as text.
bool is_timestamp(const std::string& text) {
  return text.size() == 24 && text[10] == 'T' && text[19] == '.' && text.back() == 'Z' &&
         parse_utc_seconds(text).has_value();
}

json optional_text(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

json entry_json(const ReportKey& key) {
  json e = {{"key_id", key.key_id},
            {"public_key_pem", crypto::ed25519_public_key_pem(key.public_key)},
            {"valid_from", optional_text(key.valid_from)}};
  if (key.valid_until) e["valid_until"] = *key.valid_until;
  return e;
}

std::string canonical(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::strict);
}

bool verify_hex(const crypto::Ed25519PublicKey& key, const std::string& message, const json& hex) {
  if (!hex.is_string()) return false;
  auto bytes = crypto::from_hex(hex.get<std::string>());
  return bytes && bytes->size() == 64 && crypto::ed25519_verify(key, message, *bytes);
}

}  // namespace

const ReportKey* ReportKeyHistory::find(std::string_view id) const {
  for (const auto& k : keys) {
    if (k.key_id == id) return &k;
  }
  return nullptr;
}

std::string rotation_link_bytes(const ReportKey& retired, const ReportKey& successor) {
  const json link = {{"retired",
                      {{"key_id", retired.key_id},
                       {"public_key_pem", crypto::ed25519_public_key_pem(retired.public_key)},
                       {"valid_from", optional_text(retired.valid_from)},
                       {"valid_until", optional_text(retired.valid_until)}}},
                     {"successor",
                      {{"key_id", successor.key_id},
                       {"public_key_pem", crypto::ed25519_public_key_pem(successor.public_key)},
                       {"valid_from", optional_text(successor.valid_from)}}}};
  return std::string(kReportKeyRotationDomain) + "\n" + canonical(link);
}

ReportKeyHistory initial_report_key_history(const crypto::Ed25519PublicKey& key) {
  ReportKeyHistory h;
  h.keys.push_back(ReportKey{key_id(key), key, std::nullopt, std::nullopt});
  h.json = {{"format", kReportKeyHistoryFormat},
            {"keys", json::array({entry_json(h.keys.back())})}};
  return h;
}

Result<ReportKeyHistory> check_report_key_history(const json& document) {
  if (!document.is_object() || document.value("format", "") != kReportKeyHistoryFormat) {
    return make_error("bad_history", std::string("report key history: not a ") +
                                         std::string(kReportKeyHistoryFormat) + " document");
  }
  const auto list = document.find("keys");
  if (list == document.end() || !list->is_array() || list->empty()) {
    return make_error("bad_history", "report key history: \"keys\" must be a non-empty array");
  }
  ReportKeyHistory h;
  h.json = document;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    const bool last = i + 1 == list->size();
    if (!e.is_object()) return history_error(i, "not an object");
    const std::set<std::string> allowed =
        i == 0 ? std::set<std::string>{"key_id", "public_key_pem", "valid_from", "valid_until"}
               : std::set<std::string>{"key_id",      "public_key_pem",        "valid_from",
                                       "valid_until", "predecessor_signature", "signature"};
    for (const auto& [name, value] : e.items()) {
      if (allowed.count(name) == 0) return history_error(i, "unknown member \"" + name + "\"");
    }
    ReportKey k;
    if (!e.contains("public_key_pem") || !e["public_key_pem"].is_string()) {
      return history_error(i, "public_key_pem missing");
    }
    auto pk = crypto::ed25519_public_key_from_pem(e["public_key_pem"].get<std::string>());
    if (!pk) return history_error(i, "public_key_pem is not an Ed25519 public key");
    k.public_key = *pk;
    k.key_id = key_id(k.public_key);
    if (e.value("key_id", "") != k.key_id)
      return history_error(i, "key_id does not name its public key");
    if (!seen.insert(k.key_id).second)
      return history_error(i, "key " + k.key_id + " is listed twice");

    const json from = e.value("valid_from", json());
    if (from.is_string() && is_timestamp(from.get<std::string>())) {
      k.valid_from = from.get<std::string>();
    } else if (!(i == 0 && from.is_null())) {
      return history_error(i, "valid_from must be an RFC 3339 UTC time with milliseconds");
    }
    if (e.contains("valid_until")) {
      if (last) return history_error(i, "the current (last) key has no valid_until");
      if (!e["valid_until"].is_string() || !is_timestamp(e["valid_until"].get<std::string>())) {
        return history_error(i, "valid_until must be an RFC 3339 UTC time with milliseconds");
      }
      k.valid_until = e["valid_until"].get<std::string>();
      if (k.valid_from && !(*k.valid_from < *k.valid_until)) {
        return history_error(i, "valid_until is not after valid_from");
      }
    } else if (!last) {
      return history_error(i, "a retired key needs valid_until");
    }
    if (i > 0) {
      const ReportKey& prev = h.keys.back();
      if (k.valid_from != prev.valid_until) {
        return history_error(i, "valid_from is not the previous key's valid_until");
      }
      const std::string bytes = rotation_link_bytes(prev, k);
      if (!verify_hex(prev.public_key, bytes, e.value("predecessor_signature", json()))) {
        return make_error("bad_link", "report key history: entry " + std::to_string(i) +
                                          ": predecessor_signature is not key " + prev.key_id +
                                          "'s signature");
      }
      if (!verify_hex(k.public_key, bytes, e.value("signature", json()))) {
        return make_error("bad_link", "report key history: entry " + std::to_string(i) +
                                          ": signature is not key " + k.key_id + "'s signature");
      }
    }
    h.keys.push_back(std::move(k));
  }
  return h;
}

Result<ReportKeyHistory> parse_report_key_history(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error("bad_history", "report key history: not JSON");
  return check_report_key_history(doc);
}

Status anchor_report_key_history(const ReportKeyHistory& history,
                                 const crypto::Ed25519PublicKey& anchor) {
  if (history.find(key_id(anchor)) == nullptr) {
    return make_error("unanchored", "the key history does not contain the trusted key " +
                                        key_id(anchor) +
                                        ": it is not this broker's history, or was replaced");
  }
  return {};
}

Result<ReportKeyHistory> rotate_report_key_history(const ReportKeyHistory& history,
                                                   const crypto::Ed25519Signer& current,
                                                   const crypto::Ed25519Signer& successor,
                                                   const std::string& at) {
  if (current.public_key() != history.current().public_key) {
    return make_error("bad_rotation", "the signing key is not the history's current key");
  }
  if (history.find(key_id(successor.public_key())) != nullptr) {
    return make_error("bad_rotation", "the new key is already in the history");
  }
  if (!is_timestamp(at) ||
      (history.current().valid_from && !(*history.current().valid_from < at))) {
    return make_error("bad_rotation",
                      "the rotation time is not after the current key's valid_from");
  }
  ReportKeyHistory next = history;
  next.keys.back().valid_until = at;
  ReportKey added{key_id(successor.public_key()), successor.public_key(), at, std::nullopt};
  const std::string bytes = rotation_link_bytes(next.keys.back(), added);
  json& entries = next.json["keys"];
  entries.back()["valid_until"] = at;
  json e = entry_json(added);
  e["predecessor_signature"] = crypto::to_hex(current.sign(bytes));
  e["signature"] = crypto::to_hex(successor.sign(bytes));
  entries.push_back(std::move(e));
  next.keys.push_back(std::move(added));
  return next;
}

HistoryReportVerification verify_report_with_history(std::string_view text,
                                                     const ReportKeyHistory& history) {
  HistoryReportVerification out;
  // The key it names, read from a first parse; verify_report_text does the
  // strict checks (duplicates, canonical bytes) on the same text.
  std::string_view body = text;
  if (body.ends_with('\n')) body.remove_suffix(1);
  const json peek = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  std::string named;
  if (peek.is_object() && peek.contains("signature") && peek["signature"].is_object() &&
      peek["signature"].contains("key_id") && peek["signature"]["key_id"].is_string()) {
    named = peek["signature"]["key_id"].get<std::string>();
  }
  const ReportKey* key = named.empty() ? nullptr : history.find(named);
  if (key == nullptr) {
    // Not JSON, unsigned or the like: what the strict check says, with the
    // current key; a well-formed report under a foreign key: unknown key.
    out.result = verify_report_text(text, history.current().public_key);
    if (out.result.check == ReportCheck::kOtherKey) out.result.check = ReportCheck::kUnknownKey;
    return out;
  }
  out.key = key;
  out.result = verify_report_text(text, key->public_key);
  if (out.result.check != ReportCheck::kValid && out.result.check != ReportCheck::kValidLegacy)
    return out;
  if (!key->valid_from && !key->valid_until) return out;  // no bounds: nothing to compare
  const json at = out.result.report.value("generated_at", json());
  if (!at.is_string() || !is_timestamp(at.get<std::string>())) {
    out.result.check = ReportCheck::kOutsideValidity;
    return out;
  }
  const std::string& when = at.get_ref<const std::string&>();
  if ((key->valid_from && when < *key->valid_from) ||
      (key->valid_until && !(when < *key->valid_until))) {
    out.result.check = ReportCheck::kOutsideValidity;
  }
  return out;
}

std::filesystem::path report_key_history_path(const std::filesystem::path& signing_key_file) {
  return signing_key_file.parent_path() / (signing_key_file.stem().string() + ".history.json");
}

Result<ReportKeyHistory> load_report_key_history(const std::filesystem::path& signing_key_file,
                                                 const crypto::Ed25519PublicKey& current) {
  const auto path = report_key_history_path(signing_key_file);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return make_error("io_error", path.string() + ": " + ec.message());
    return initial_report_key_history(current);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("io_error", path.string() + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  auto history = parse_report_key_history(text.str());
  if (!history)
    return make_error(history.error().code, path.string() + ": " + history.error().message);
  if (history->current().public_key != current) {
    return make_error(
        "history_mismatch",
        path.string() + ": its current key " + history->current().key_id +
            " is not the signing key " + key_id(current) +
            " (a rotation stopped half-way, or a key file replaced by hand: run `brokerctl report "
            "rotate-key` again, or restore the matching key)");
  }
  return history;
}

}  // namespace hfv::broker
