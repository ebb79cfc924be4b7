#include "audit/keyring.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/key_wrap.hpp"

namespace hfv::audit {

using nlohmann::json;

namespace {

std::string seal(const crypto::SecretKey& kek, const crypto::SecretKey& key,
                 std::string_view slot) {
  return crypto::wrap_key(kek, key, kKeyringFormat, slot);
}

std::optional<crypto::SecretKey> unseal(const crypto::SecretKey& kek, const json& box_hex,
                                        std::string_view slot) {
  if (!box_hex.is_string()) return std::nullopt;
  return crypto::unwrap_key(kek, box_hex.get<std::string>(), kKeyringFormat, slot);
}

Result<json> parse_keyring(const std::string& text, const std::string& where) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kKeyringFormat) {
    return make_error("bad_keyring", where + " is not an " + std::string(kKeyringFormat) + " file");
  }
  return doc;
}

Result<json> read_json(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return make_error("not_found", "audit keyring " + file.string() + " does not exist");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error("io_error", "cannot read " + file.string());
  std::stringstream s;
  s << in.rdbuf();
  return parse_keyring(s.str(), file.string());
}

// The clear part of the keyring: the public key, and the transitions that
// lead to it from the first key, checked.
Result<KeyHistory> history_of(const json& doc, const std::string& where) {
  auto bytes = crypto::from_hex(doc.value("public_key", ""));
  if (!bytes || bytes->size() != 32) return make_error("bad_keyring", where + ": bad public_key");
  crypto::Ed25519PublicKey current{};
  std::copy(bytes->begin(), bytes->end(), current.begin());
  KeyHistory history;
  history.first = current;
  if (const auto it = doc.find("key_transitions"); it != doc.end()) {
    auto transitions = key_transitions_from_json(*it);
    if (!transitions) return make_error("bad_keyring", where + ": " + transitions.error().message);
    history.transitions = std::move(*transitions);
    if (!history.transitions.empty()) history.first = history.transitions.front().old_key;
  }
  if (auto s = check_key_history(history); !s)
    return make_error("bad_keyring", where + ": " + s.error().message);
  if (history.current() != current)
    return make_error("bad_keyring", where + ": its key history does not end at its public_key");
  return history;
}

Result<Keyring> from_json(const json& doc, const crypto::SecretKey& kek, const std::string& where) {
  if (doc.value("kek_id", "") != kek_id(kek)) {
    return make_error("bad_key", "the audit keyring " + where +
                                     " is wrapped by another master key (kek_id " +
                                     doc.value("kek_id", std::string("?")) + ")");
  }
  Keyring k;
  auto db = unseal(kek, doc["db_key"], "db_key");
  auto seed = unseal(kek, doc["signing_seed"], "signing_seed");
  if (!db || !seed) return make_error("bad_key", "the audit keyring " + where + " cannot be unwrapped");
  k.db_key = *db;
  k.signing_seed = *seed;
  if (doc.contains("next_db_key")) {
    auto next = unseal(kek, doc["next_db_key"], "next_db_key");
    if (!next) return make_error("bad_key", "the audit keyring's next key cannot be unwrapped");
    k.next_db_key = *next;
  }
  k.public_key = k.signer().public_key();
  auto history = history_of(doc, where);
  if (!history) return history.error();
  if (history->current() != k.public_key) {
    return make_error("bad_keyring", "the audit keyring " + where +
                                         ": its key history does not end at its signing key");
  }
  k.history = std::move(*history);
  return k;
}

}  // namespace

std::string kek_id(const crypto::SecretKey& kek) { return crypto::kek_identifier(kek, "hfv-audit-kek-id"); }

std::filesystem::path keyring_path(const std::filesystem::path& db) {
  std::filesystem::path p = db;
  p += ".keyring";
  return p;
}

Keyring Keyring::generate() {
  Keyring k;
  k.db_key = crypto::SecretKey::random();
  k.signing_seed = crypto::SecretKey::random();
  k.public_key = k.signer().public_key();
  k.history.first = k.public_key;
  return k;
}

crypto::Ed25519Signer Keyring::signer() const {
  return crypto::Ed25519Signer::from_seed(signing_seed.bytes());
}

Result<Keyring> Keyring::load(const std::filesystem::path& file, const crypto::SecretKey& kek) {
  auto doc = read_json(file);
  if (!doc) return doc.error();
  return from_json(*doc, kek, file.string());
}

Result<Keyring> Keyring::from_sealed_text(const std::string& text, const crypto::SecretKey& kek,
                                          const std::string& where) {
  auto doc = parse_keyring(text, where);
  if (!doc) return doc.error();
  return from_json(*doc, kek, where);
}

Result<crypto::Ed25519PublicKey> Keyring::load_public_key(const std::filesystem::path& file) {
  auto history = load_key_history(file);
  if (!history) return history.error();
  return history->first;
}

Result<KeyHistory> Keyring::load_key_history(const std::filesystem::path& file) {
  auto doc = read_json(file);
  if (!doc) return doc.error();
  return history_of(*doc, file.string());
}

KeyTransition Keyring::rotate_signing_key(const std::string& origin, std::uint64_t tree_size,
                                          const merkle::Hash& root, const std::string& timestamp) {
  const crypto::SecretKey fresh = crypto::SecretKey::random();
  const auto old_signer = signer();
  const auto new_signer = crypto::Ed25519Signer::from_seed(fresh.bytes());
  KeyTransition t = sign_key_transition(old_signer, new_signer, origin, tree_size, root, timestamp);
  signing_seed.wipe();
  signing_seed = fresh;
  public_key = new_signer.public_key();
  history.transitions.push_back(t);
  return t;
}

std::string Keyring::sealed_text(const crypto::SecretKey& kek) const {
  json doc = {{"format", kKeyringFormat},
              {"kek_id", kek_id(kek)},
              {"db_key", seal(kek, db_key, "db_key")},
              {"signing_seed", seal(kek, signing_seed, "signing_seed")},
              {"public_key", crypto::to_hex(public_key)}};
  if (next_db_key) doc["next_db_key"] = seal(kek, *next_db_key, "next_db_key");
  if (!history.transitions.empty()) doc["key_transitions"] = key_transitions_json(history.transitions);
  return doc.dump(2) + "\n";
}

Status Keyring::save(const std::filesystem::path& file, const crypto::SecretKey& kek) const {
  return replace_file_atomically(file, sealed_text(kek), 0600);
}

}  // namespace hfv::audit
