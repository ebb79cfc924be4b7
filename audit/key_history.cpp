#include "audit/key_history.hpp"

#include <algorithm>

#include "audit/untrusted_json.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit {

using nlohmann::json;

namespace {

using untrusted::text_of;

template <std::size_t N>
bool hex_into(const std::string& hex, std::array<std::uint8_t, N>& out) {
  auto bytes = crypto::from_hex(hex);
  if (!bytes || bytes->size() != N) return false;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return true;
}

Error bad_transition(std::size_t index, const std::string& why) {
  return make_error("bad_transition",
                    "signing-key transition " + std::to_string(index + 1) + ": " + why);
}

}  // namespace

std::string key_transition_message(const KeyTransition& t) {
  return std::string(kKeyTransitionFormat) + "\n" + t.origin + "\n" + std::to_string(t.tree_size) +
         "\n" + crypto::to_hex(t.root) + "\n" + audit_key_id(t.old_key) + "\n" +
         audit_key_id(t.new_key) + "\n" + crypto::to_hex(t.new_key) + "\n" + t.timestamp + "\n";
}

KeyTransition sign_key_transition(const crypto::Ed25519Signer& old_signer,
                                  const crypto::Ed25519Signer& new_signer, std::string origin,
                                  std::uint64_t tree_size, const merkle::Hash& root,
                                  std::string timestamp) {
  KeyTransition t;
  t.origin = std::move(origin);
  t.tree_size = tree_size;
  t.root = root;
  t.timestamp = std::move(timestamp);
  t.old_key = old_signer.public_key();
  t.new_key = new_signer.public_key();
  const std::string message = key_transition_message(t);
  t.old_signature = old_signer.sign(message);
  t.new_signature = new_signer.sign(message);
  return t;
}

bool verify_key_transition(const KeyTransition& t) {
  const std::string message = key_transition_message(t);
  return crypto::ed25519_verify(t.old_key, message, t.old_signature) &&
         crypto::ed25519_verify(t.new_key, message, t.new_signature);
}

json key_transition_json(const KeyTransition& t) {
  return {{"format", kKeyTransitionFormat},
          {"origin", t.origin},
          {"tree_size", t.tree_size},
          {"root_hash", crypto::to_hex(t.root)},
          {"timestamp", t.timestamp},
          {"old_key", crypto::to_hex(t.old_key)},
          {"old_key_id", audit_key_id(t.old_key)},
          {"new_key", crypto::to_hex(t.new_key)},
          {"new_key_id", audit_key_id(t.new_key)},
          {"old_signature", crypto::to_hex(t.old_signature)},
          {"new_signature", crypto::to_hex(t.new_signature)}};
}

Result<KeyTransition> key_transition_from_json(const json& j) {
  auto bad = [] { return make_error("bad_transition", "malformed signing-key transition"); };
  if (!j.is_object() || text_of(j, "format") != kKeyTransitionFormat) return bad();
  const auto size = j.find("tree_size");
  if (size == j.end() || !size->is_number_unsigned()) return bad();
  KeyTransition t;
  t.tree_size = size->get<std::uint64_t>();
  t.origin = text_of(j, "origin");
  t.timestamp = text_of(j, "timestamp");
  if (t.origin.empty() || t.timestamp.empty() || !hex_into(text_of(j, "root_hash"), t.root) ||
      !hex_into(text_of(j, "old_key"), t.old_key) || !hex_into(text_of(j, "new_key"), t.new_key) ||
      !hex_into(text_of(j, "old_signature"), t.old_signature) ||
      !hex_into(text_of(j, "new_signature"), t.new_signature)) {
    return bad();
  }
  return t;
}

std::vector<crypto::Ed25519PublicKey> KeyHistory::keys() const {
  std::vector<crypto::Ed25519PublicKey> all{first};
  for (const auto& t : transitions) all.push_back(t.new_key);
  return all;
}

bool KeyHistory::verifies(const SignedTreeHead& head) const {
  const auto all = keys();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::uint64_t from = i == 0 ? 0 : transitions[i - 1].tree_size;
    if (head.tree_size < from) continue;
    if (i < transitions.size() && head.tree_size > transitions[i].tree_size) continue;
    if (verify_tree_head(head, all[i])) return true;
  }
  return false;
}

Status check_key_history(const KeyHistory& history) {
  crypto::Ed25519PublicKey previous = history.first;
  std::uint64_t size = 0;
  for (std::size_t i = 0; i < history.transitions.size(); ++i) {
    const KeyTransition& t = history.transitions[i];
    if (t.old_key != previous) {
      return bad_transition(i, "it retires key " + audit_key_id(t.old_key) +
                                   ", but the key then was " + audit_key_id(previous));
    }
    if (t.new_key == t.old_key) return bad_transition(i, "the new key is the old one");
    if (!verify_key_transition(t)) {
      return bad_transition(i, "it is not signed by both the retiring key " +
                                   audit_key_id(t.old_key) + " and the new key " +
                                   audit_key_id(t.new_key));
    }
    if (t.tree_size < size)
      return bad_transition(i, "its tree size is below the previous transition's");
    if (t.origin != history.transitions.front().origin)
      return bad_transition(
          i, "its origin is not the log's (" + history.transitions.front().origin + ")");
    previous = t.new_key;
    size = t.tree_size;
  }
  return {};
}

Result<KeyHistory> key_history_from(const crypto::Ed25519PublicKey& trusted,
                                    const KeyHistory& chain) {
  const auto all = chain.keys();
  const auto at = std::find(all.begin(), all.end(), trusted);
  if (at == all.end()) {
    return make_error("untrusted_key", "key " + audit_key_id(trusted) +
                                           " is none of the log's signing keys (first key " +
                                           audit_key_id(chain.first) + ", " +
                                           std::to_string(chain.transitions.size()) +
                                           " transitions)");
  }
  const auto skip = static_cast<std::size_t>(at - all.begin());
  KeyHistory from;
  from.first = trusted;
  from.transitions.assign(chain.transitions.begin() + static_cast<std::ptrdiff_t>(skip),
                          chain.transitions.end());
  if (auto s = check_key_history(from); !s) return s.error();
  return from;
}

json key_transitions_json(const std::vector<KeyTransition>& transitions) {
  json out = json::array();
  for (const auto& t : transitions) out.push_back(key_transition_json(t));
  return out;
}

Result<std::vector<KeyTransition>> key_transitions_from_json(const json& j) {
  if (!j.is_array())
    return make_error("bad_transition", "the signing-key transitions are not a list");
  std::vector<KeyTransition> out;
  for (const auto& item : j) {
    auto t = key_transition_from_json(item);
    if (!t) return t.error();
    out.push_back(std::move(*t));
  }
  return out;
}

json key_history_json(const KeyHistory& history) {
  return {{"format", kKeyHistoryFormat},
          {"first_key", crypto::to_hex(history.first)},
          {"first_key_id", audit_key_id(history.first)},
          {"current_key", crypto::to_hex(history.current())},
          {"current_key_id", audit_key_id(history.current())},
          {"transitions", key_transitions_json(history.transitions)}};
}

Result<KeyHistory> key_history_from_json(const json& j) {
  if (!j.is_object() || text_of(j, "format") != kKeyHistoryFormat || !j.contains("transitions")) {
    return make_error("bad_history", "not an " + std::string(kKeyHistoryFormat) + " document");
  }
  KeyHistory history;
  if (!hex_into(text_of(j, "first_key"), history.first))
    return make_error("bad_history", "the key history's first_key is not a 32-byte hex key");
  auto transitions = key_transitions_from_json(j["transitions"]);
  if (!transitions) return transitions.error();
  history.transitions = std::move(*transitions);
  if (auto s = check_key_history(history); !s) return s.error();
  crypto::Ed25519PublicKey current{};
  if (j.contains("current_key") &&
      (!hex_into(text_of(j, "current_key"), current) || current != history.current())) {
    return make_error("bad_history",
                      "the key history's current_key is not its last transition's key");
  }
  return history;
}

}  // namespace hfv::audit
