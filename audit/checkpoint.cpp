// Signed notes, checkpoints, cosignatures and the add-checkpoint body
// (checkpoint.hpp). Written from the C2SP specifications; parsers are
// strict: anything the specifications do not allow is refused.
#include "audit/checkpoint.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/files.hpp"

namespace hfv::audit::note {

namespace {

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // U+2014 EM DASH, space

int b64_value(char c) {
  const auto at = kB64.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// Valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF) and
// no control character but newline.
bool note_chars_ok(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const std::uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (cp >= 0x80 && cp < 0xA0) return false;  // C1 controls
    i += n + 1;
  }
  return true;
}

std::uint32_t read_be32(std::span<const std::uint8_t> b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

std::string hex8(std::uint32_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[v & 0xF];
    v >>= 4;
  }
  return out;
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (bytes.size() - i == 1) {
    const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<crypto::Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  crypto::Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = b64_value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const std::uint32_t w = (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) |
                            (std::uint32_t(v[2]) << 6) | std::uint32_t(v[3]);
    out.push_back(static_cast<std::uint8_t>(w >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(w >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(w));
  }
  // Canonical only: the bits padding leaves over must be zero.
  if (base64_encode(out) != text) return std::nullopt;
  return out;
}

bool valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return c > 0x20 && c < 0x7f && c != '+'; });
}

std::uint32_t key_id(std::string_view name, KeyType type, const crypto::Ed25519PublicKey& key) {
  std::string data(name);
  data += '\n';
  data += static_cast<char>(type);
  data.append(reinterpret_cast<const char*>(key.data()), key.size());
  const auto digest = crypto::sha256(data);
  return read_be32(digest);
}

Verifier make_verifier(std::string name, KeyType type, const crypto::Ed25519PublicKey& key) {
  Verifier v;
  v.key_id = key_id(name, type, key);
  v.name = std::move(name);
  v.type = type;
  v.key = key;
  return v;
}

std::string vkey_text(const Verifier& verifier) {
  crypto::Bytes material;
  material.push_back(static_cast<std::uint8_t>(verifier.type));
  material.insert(material.end(), verifier.key.begin(), verifier.key.end());
  return verifier.name + "+" + hex8(verifier.key_id) + "+" + base64_encode(material);
}

Result<Verifier> parse_vkey(std::string_view text) {
  auto bad = [](const std::string& why) { return make_error("bad_vkey", "verifier key: " + why); };
  const auto first = text.find('+');
  const auto second = first == std::string_view::npos ? first : text.find('+', first + 1);
  if (second == std::string_view::npos) return bad("not written <name>+<key id>+<key>");
  // (The base64 key may itself hold '+': only the first two separate.)
  const std::string_view name = text.substr(0, first);
  const std::string_view id = text.substr(first + 1, second - first - 1);
  if (!valid_key_name(name)) return bad("the key name is empty or has spaces or control characters");
  const auto id_bytes = crypto::from_hex(id);
  if (id.size() != 8 || !id_bytes || hex8(read_be32(*id_bytes)) != id) {
    return bad("the key id is not 8 lowercase hex digits");
  }
  const auto material = base64_decode(text.substr(second + 1));
  if (!material || material->size() != 33) return bad("the key is not a type byte and 32 bytes of base64");
  const auto type = (*material)[0];
  if (type != static_cast<std::uint8_t>(KeyType::kEd25519) &&
      type != static_cast<std::uint8_t>(KeyType::kCosignatureV1)) {
    return bad("the key type is neither Ed25519 (0x01) nor an Ed25519 cosignature key (0x04)");
  }
  crypto::Ed25519PublicKey key{};
  std::copy(material->begin() + 1, material->end(), key.begin());
  Verifier v = make_verifier(std::string(name), static_cast<KeyType>(type), key);
  if (v.key_id != read_be32(*id_bytes)) return bad("the key id does not match the name and key");
  return v;
}

Result<Note> parse_note(std::string_view note) {
  auto bad = [](const std::string& why) { return make_error("bad_note", "signed note: " + why); };
  if (note.size() > kMaxNoteBytes) return bad("too long");
  if (!note_chars_ok(note)) return bad("not UTF-8, or holds control characters");
  if (note.empty() || note.back() != '\n') return bad("does not end in a newline");
  const auto split = note.rfind("\n\n");
  if (split == std::string_view::npos) return bad("no blank line before the signatures");
  Note out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view rest = note.substr(split + 2);
  if (rest.empty()) return bad("no signature");
  while (!rest.empty()) {
    const auto eol = rest.find('\n');  // rest ends in '\n'
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 1);
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) return bad("a signature line does not start with \"— \"");
    const std::string_view body = line.substr(kSigPrefix.size());
    const auto space = body.rfind(' ');
    if (space == std::string_view::npos || space == 0) return bad("a signature line has no key name");
    const std::string_view name = body.substr(0, space);
    if (name.find(' ') != std::string_view::npos || name.find('+') != std::string_view::npos) {
      return bad("a signature's key name has a space or a plus");
    }
    const auto sig = base64_decode(body.substr(space + 1));
    if (!sig || sig->size() < 5) return bad("a signature is not base64 of a key id and a signature");
    if (out.signatures.size() == kMaxSignatures) return bad("too many signatures");
    Signature s;
    s.name = std::string(name);
    s.key_id = read_be32(*sig);
    s.signature.assign(sig->begin() + 4, sig->end());
    s.line = std::string(line) + "\n";
    out.signatures.push_back(std::move(s));
  }
  return out;
}

std::string note_text_with_signatures(const Note& note) {
  std::string out = note.text + "\n";
  for (const auto& s : note.signatures) out += s.line;
  return out;
}

std::string signature_line(std::string_view name, std::uint32_t id,
                           std::span<const std::uint8_t> signature) {
  crypto::Bytes bytes = {static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16),
                         static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
  bytes.insert(bytes.end(), signature.begin(), signature.end());
  return std::string(kSigPrefix) + std::string(name) + " " + base64_encode(bytes) + "\n";
}

std::string sign_ed25519(const crypto::Ed25519Signer& signer, std::string_view name,
                         std::string_view text) {
  const auto sig = signer.sign(text);
  return signature_line(name, key_id(name, KeyType::kEd25519, signer.public_key()), sig);
}

std::string cosignature_message(std::string_view text, std::uint64_t timestamp) {
  return "cosignature/v1\ntime " + std::to_string(timestamp) + "\n" + std::string(text);
}

std::string cosign(const crypto::Ed25519Signer& signer, std::string_view name,
                   std::string_view checkpoint_text, std::uint64_t timestamp) {
  const auto sig = signer.sign(cosignature_message(checkpoint_text, timestamp));
  crypto::Bytes bytes;
  for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(timestamp >> shift));
  bytes.insert(bytes.end(), sig.begin(), sig.end());
  return signature_line(name, key_id(name, KeyType::kCosignatureV1, signer.public_key()), bytes);
}

Result<std::vector<VerifiedSignature>> verify_note(const Note& note,
                                                   std::span<const Verifier> trusted) {
  std::vector<VerifiedSignature> verified;
  for (const auto& s : note.signatures) {
    const auto key = std::find_if(trusted.begin(), trusted.end(), [&](const Verifier& v) {
      return v.name == s.name && v.key_id == s.key_id;
    });
    if (key == trusted.end()) continue;
    auto failed = [&] {
      return make_error("bad_signature", "the signature of " + s.name + " does not verify");
    };
    VerifiedSignature ok{s.name, key->type, 0};
    if (key->type == KeyType::kEd25519) {
      if (s.signature.size() != 64 || !crypto::ed25519_verify(key->key, note.text, s.signature))
        return failed();
    } else {
      if (s.signature.size() != 72) return failed();
      std::uint64_t t = 0;
      for (std::size_t i = 0; i < 8; ++i) t = (t << 8) | s.signature[i];
      if (t == 0 || t > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
          !crypto::ed25519_verify(key->key, cosignature_message(note.text, t),
                                  std::span(s.signature).subspan(8))) {
        return failed();
      }
      ok.timestamp = t;
    }
    verified.push_back(std::move(ok));
  }
  if (verified.empty()) {
    return make_error("no_trusted_signature", "the note carries no signature from a trusted key");
  }
  return verified;
}

}  // namespace hfv::audit::note

namespace hfv::audit {

namespace {

// Canonical ASCII decimal: no sign, no leading zero but for "0".
std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<merkle::Hash> parse_hash(std::string_view b64) {
  const auto bytes = note::base64_decode(b64);
  if (!bytes || bytes->size() != merkle::Hash{}.size()) return std::nullopt;
  merkle::Hash h{};
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

}  // namespace

std::string checkpoint_text(const Checkpoint& checkpoint) {
  std::string out = checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" +
                    note::base64_encode(checkpoint.root) + "\n";
  for (const auto& e : checkpoint.extensions) out += e + "\n";
  return out;
}

Result<Checkpoint> parse_checkpoint(std::string_view text) {
  auto bad = [](const std::string& why) { return make_error("bad_checkpoint", "checkpoint: " + why); };
  if (text.empty() || text.back() != '\n') return bad("does not end in a newline");
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const auto eol = rest.find('\n');
    lines.push_back(rest.substr(0, eol));
    rest.remove_prefix(eol + 1);
  }
  if (lines.size() < 3) return bad("fewer than three lines");
  Checkpoint c;
  if (lines[0].empty()) return bad("empty origin");
  c.origin = std::string(lines[0]);
  const auto size = parse_decimal(lines[1]);
  if (!size) return bad("the tree size is not a decimal number without leading zeros");
  c.size = *size;
  const auto root = parse_hash(lines[2]);
  if (!root) return bad("the root hash is not 32 bytes in base64");
  c.root = *root;
  for (std::size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) return bad("an empty extension line");
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

std::string default_origin(const crypto::Ed25519PublicKey& log_key) {
  const auto digest = crypto::sha256(std::span<const std::uint8_t>(log_key));
  return "hfv/audit/" + crypto::to_hex(digest).substr(0, 16);
}

bool valid_origin(std::string_view origin) {
  return note::valid_key_name(origin) && origin.substr(0, 10) != "hfv-audit-";
}

std::string signed_checkpoint(const crypto::Ed25519Signer& signer, const Checkpoint& checkpoint) {
  const std::string text = checkpoint_text(checkpoint);
  return text + "\n" + note::sign_ed25519(signer, checkpoint.origin, text);
}

std::string add_checkpoint_body(std::uint64_t old_size, std::span<const merkle::Hash> proof,
                                std::string_view checkpoint_note) {
  std::string out = "old " + std::to_string(old_size) + "\n";
  for (const auto& h : proof) out += note::base64_encode(h) + "\n";
  out += "\n";
  out += checkpoint_note;
  return out;
}

Result<AddCheckpoint> parse_add_checkpoint(std::string_view body) {
  auto bad = [](const std::string& why) { return make_error("bad_request", "add-checkpoint: " + why); };
  auto next_line = [&body]() -> std::optional<std::string_view> {
    const auto eol = body.find('\n');
    if (eol == std::string_view::npos) return std::nullopt;
    const auto line = body.substr(0, eol);
    body.remove_prefix(eol + 1);
    return line;
  };
  const auto first = next_line();
  if (!first || first->substr(0, 4) != "old ") return bad("the body does not start with \"old <size>\"");
  const auto old_size = parse_decimal(first->substr(4));
  if (!old_size) return bad("the old size is not a decimal number without leading zeros");
  AddCheckpoint out;
  out.old_size = *old_size;
  for (;;) {
    const auto line = next_line();
    if (!line) return bad("no blank line before the checkpoint");
    if (line->empty()) break;
    if (out.proof.size() == kMaxProofLines) return bad("more than 63 consistency proof lines");
    const auto hash = parse_hash(*line);
    if (!hash) return bad("a consistency proof line is not one hash in base64");
    out.proof.push_back(*hash);
  }
  out.checkpoint_note = std::string(body);
  return out;
}

std::string origin_hash(std::string_view origin) { return crypto::to_hex(crypto::sha256(origin)); }

std::filesystem::path cosigned_path(const std::filesystem::path& anchor_file) {
  auto p = anchor_file;
  p += ".cosigned";
  return p;
}

Result<CosignedFile> read_cosigned(const std::filesystem::path& file) {
  using nlohmann::json;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return CosignedFile{};
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  const json doc = json::parse(s.str(), nullptr, false);
  auto bad = [&] { return make_error("bad_cosigned", "cosigned checkpoints " + file.string() + " are malformed"); };
  if (!in || doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kCosignedFormat ||
      !doc.contains("origin") || !doc["origin"].is_string() || !doc.contains("witnesses") ||
      !doc["witnesses"].is_object()) {
    return bad();
  }
  CosignedFile out;
  out.origin = doc["origin"].get<std::string>();
  for (const auto& [name, note] : doc["witnesses"].items()) {
    if (!note.is_string()) return bad();
    out.checkpoints[name] = note.get<std::string>();
  }
  return out;
}

Status write_cosigned(const std::filesystem::path& file, const CosignedFile& cosigned) {
  nlohmann::json witnesses = nlohmann::json::object();
  for (const auto& [name, note] : cosigned.checkpoints) witnesses[name] = note;
  const nlohmann::json doc = {
      {"format", kCosignedFormat}, {"origin", cosigned.origin}, {"witnesses", witnesses}};
  return replace_file_atomically(file, doc.dump(2) + "\n", 0644);
}

}  // namespace hfv::audit
