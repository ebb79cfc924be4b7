#include "audit/tree_head.hpp"

#include <fstream>
#include <sstream>

#include "common/files.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit {

using nlohmann::json;

std::string tree_head_message(std::uint64_t tree_size, const merkle::Hash& root,
                              const std::string& timestamp) {
  return std::string(kTreeHeadFormat) + "\n" + std::to_string(tree_size) + "\n" +
         crypto::to_hex(root) + "\n" + timestamp + "\n";
}

std::string audit_key_id(const crypto::Ed25519PublicKey& key) {
  return crypto::to_hex(crypto::sha256(std::span<const std::uint8_t>(key))).substr(0, 16);
}

SignedTreeHead sign_tree_head(const crypto::Ed25519Signer& signer, std::uint64_t tree_size,
                              const merkle::Hash& root, const std::string& timestamp) {
  SignedTreeHead h;
  h.tree_size = tree_size;
  h.root = root;
  h.timestamp = timestamp;
  h.key_id = audit_key_id(signer.public_key());
  h.signature = signer.sign(tree_head_message(tree_size, root, timestamp));
  return h;
}

bool verify_tree_head(const SignedTreeHead& head, const crypto::Ed25519PublicKey& key) {
  return head.key_id == audit_key_id(key) &&
         crypto::ed25519_verify(key, tree_head_message(head.tree_size, head.root, head.timestamp),
                                head.signature);
}

json tree_head_json(const SignedTreeHead& head) {
  return {{"format", kTreeHeadFormat},
          {"tree_size", head.tree_size},
          {"root_hash", crypto::to_hex(head.root)},
          {"timestamp", head.timestamp},
          {"key_id", head.key_id},
          {"signature", crypto::to_hex(head.signature)}};
}

namespace {
// A string member of an object, "" when absent or not a string (the head
// comes from files and exports: json::value() would throw on another type).
std::string head_text(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

Result<SignedTreeHead> tree_head_from_json(const json& j) {
  auto bad = [] { return make_error("bad_tree_head", "malformed signed tree head"); };
  if (!j.is_object() || head_text(j, "format") != kTreeHeadFormat) return bad();
  if (!j.contains("tree_size") || !j["tree_size"].is_number_unsigned()) return bad();
  SignedTreeHead h;
  h.tree_size = j["tree_size"].get<std::uint64_t>();
  h.timestamp = head_text(j, "timestamp");
  h.key_id = head_text(j, "key_id");
  auto root = crypto::from_hex(head_text(j, "root_hash"));
  auto sig = crypto::from_hex(head_text(j, "signature"));
  if (!root || root->size() != h.root.size() || !sig || sig->size() != h.signature.size() ||
      h.timestamp.empty()) {
    return bad();
  }
  std::copy(root->begin(), root->end(), h.root.begin());
  std::copy(sig->begin(), sig->end(), h.signature.begin());
  return h;
}

Status write_anchor(const std::filesystem::path& file, const SignedTreeHead& head) {
  const json doc = {{"format", kAnchorFormat}, {"tree_head", tree_head_json(head)}};
  return replace_file_atomically(file, doc.dump() + "\n", 0644);
}

Result<std::optional<SignedTreeHead>> read_anchor(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::optional<SignedTreeHead>();
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  const json doc = json::parse(s.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kAnchorFormat ||
      !doc.contains("tree_head")) {
    return make_error("bad_anchor", "anchor file " + file.string() + " is malformed");
  }
  auto head = tree_head_from_json(doc["tree_head"]);
  if (!head)
    return make_error("bad_anchor", "anchor file " + file.string() + ": " + head.error().message);
  return std::optional<SignedTreeHead>(*head);
}

}  // namespace hfv::audit
