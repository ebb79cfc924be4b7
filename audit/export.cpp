#include "audit/export.hpp"

#include <nlohmann/json.hpp>
#include <vector>

#include "audit/key_history.hpp"
#include "audit/merkle.hpp"
#include "audit/untrusted_json.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit {

using nlohmann::json;

namespace {

using untrusted::integer_of;
using untrusted::text_of;

std::optional<merkle::Hash> hash_hex(const json& j) {
  if (!j.is_string()) return std::nullopt;
  auto bytes = crypto::from_hex(j.get<std::string>());
  if (!bytes || bytes->size() != 32) return std::nullopt;
  merkle::Hash h{};
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

}  // namespace

Result<ExportReport> verify_export(std::string_view text, const crypto::Ed25519PublicKey& key) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  if (lines.size() < 2) return make_error("bad_export", "not an hfv-audit-export/v1 or /v2 file");
  const json header = json::parse(lines.front(), nullptr, false);
  const std::string format = text_of(header, "format");
  if (header.is_discarded() || text_of(header, "type") != "header" ||
      (format != "hfv-audit-export/v1" && format != "hfv-audit-export/v2") || !header.contains("tree_head")) {
    return make_error("bad_export", "not an hfv-audit-export/v1 or /v2 file");
  }
  // v2: personal parts may be re-keyed (member re-pseudonymised for this
  // export), vouched for by the export's signature instead of the commitment.
  const bool rekeying = format == "hfv-audit-export/v2";
  ExportReport report;
  auto fail = [&](std::int64_t seq, std::string why) {
    report.ok = false;
    report.first_bad_seq = seq;
    report.problem = std::move(why);
    return report;
  };
  auto head = tree_head_from_json(header["tree_head"]);
  if (!head) return fail(0, "the export's tree head is malformed");
  report.head = *head;
  // After signing-key rotations the header carries the transitions: the
  // way from the trusted key (the first, or a later one) to the key that
  // signed the export, every step signed by the key before it.
  KeyHistory keys;
  keys.first = key;
  if (header.contains("key_transitions")) {
    auto transitions = key_transitions_from_json(header["key_transitions"]);
    if (!transitions) return fail(0, "the export's key transitions are malformed");
    KeyHistory chain;
    chain.transitions = std::move(*transitions);
    if (!chain.transitions.empty()) chain.first = chain.transitions.front().old_key;
    auto from = key_history_from(key, chain);
    if (!from) return fail(0, "the export's signing keys: " + from.error().message);
    keys = std::move(*from);
  }
  report.key_transitions = static_cast<std::int64_t>(keys.transitions.size());
  if (!keys.verifies(*head))
    return fail(0, "the export's tree head is not signed by this key");
  // The signature over the whole export, in its last line.
  std::size_t body_size = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) body_size += lines[i].size() + 1;
  const json end = json::parse(lines.back(), nullptr, false);
  if (end.is_discarded() || text_of(end, "type") != "end")
    return fail(0, "the export is truncated (no end line)");
  const std::string_view whole(lines.front().data(), body_size);
  const std::string digest = crypto::to_hex(crypto::sha256(whole));
  auto sig = crypto::from_hex(text_of(end, "signature"));
  if (text_of(end, "sha256") != digest || !sig ||
      !crypto::ed25519_verify(keys.current(), format + "\n" + digest + "\n", *sig)) {
    return fail(0, "the export's signature does not match its contents");
  }
  const std::int64_t from = integer_of(header, "from_seq", 0);
  const std::int64_t to = integer_of(header, "to_seq", 0);
  std::int64_t expected = from;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const json line = json::parse(lines[i], nullptr, false);
    if (line.is_discarded() || !line.is_object())
      return fail(expected, "line " + std::to_string(i + 1) + " is not JSON");
    const std::int64_t seq = integer_of(line, "seq", 0);
    if (seq != expected)
      return fail(expected, "record " + std::to_string(expected) + " is missing");
    merkle::Hash leaf{};
    if (text_of(line, "type") == "record") {
      if (!line.contains("envelope") || !line["envelope"].is_string())
        return fail(seq, "record without envelope");
      const std::string envelope = line["envelope"].get<std::string>();
      const json e = json::parse(envelope, nullptr, false);
      if (e.is_discarded() || integer_of(e, "seq", -1) != seq)
        return fail(seq, "envelope does not match its seq");
      const bool rekeyed = rekeying && line.contains("personal_rekeyed") && line["personal_rekeyed"] == true;
      if (rekeyed) {
        if (!line.contains("personal") || !line["personal"].is_string() || !e.contains("personal_sha256"))
          return fail(seq, "re-keyed personal fields of a record without any");
        ++report.rekeyed;
      } else if (line.contains("personal") && line["personal"].is_string() &&
                 crypto::to_hex(crypto::sha256(line["personal"].get<std::string>())) !=
                     text_of(e, "personal_sha256")) {
        return fail(seq, "personal fields do not match their commitment");
      }
      leaf = merkle::leaf_hash(envelope);
    } else if (text_of(line, "type") == "withheld") {
      auto h = line.contains("leaf_hash") ? hash_hex(line["leaf_hash"]) : std::nullopt;
      if (!h) return fail(seq, "withheld record without a leaf hash");
      leaf = *h;
      ++report.withheld;
    } else {
      return fail(seq, "unknown line type");
    }
    std::vector<merkle::Hash> path;
    if (!line.contains("proof") || !line["proof"].is_array())
      return fail(seq, "no inclusion proof");
    for (const auto& p : line["proof"]) {
      auto h = hash_hex(p);
      if (!h) return fail(seq, "malformed inclusion proof");
      path.push_back(*h);
    }
    if (!merkle::verify_inclusion(leaf, static_cast<std::uint64_t>(seq - 1), head->tree_size, path,
                                  head->root)) {
      return fail(seq, "record " + std::to_string(seq) +
                           " is not in the signed tree (inclusion proof fails)");
    }
    ++report.records;
    ++expected;
  }
  if (expected != to + 1)
    return fail(expected, "the export ends before record " + std::to_string(to));
  return report;
}

}  // namespace hfv::audit
