// The C2SP formats the audit log's heads take when they leave the host for
// witnesses (docs/audit-log-format.md, "Checkpoints and cosignatures"):
//   - signed notes (c2sp.org/signed-note): text, a blank line, signature
//     lines "— <key name> base64(key ID || signature)"; verifier keys
//     ("vkeys") "<name>+<hex key ID>+base64(type || public key)";
//   - checkpoints (c2sp.org/tlog-checkpoint): the note text
//     "<origin>\n<tree size>\n<base64 RFC 6962 root>\n", signed by the log
//     with its audit key as an Ed25519 note signature (type 0x01) under the
//     key name <origin>;
//   - cosignatures (c2sp.org/tlog-cosignature, cosignature/v1): a witness's
//     timestamped Ed25519 signature (type 0x04) over
//     "cosignature/v1\ntime <t>\n" + the checkpoint text;
//   - the witness protocol's add-checkpoint request body
//     (c2sp.org/tlog-witness): "old <n>\n", base64 consistency-proof lines,
//     a blank line, the checkpoint note.
// Everything here is a pure function over text and keys: parsers of
// untrusted bytes return errors (codes "bad_note", "bad_vkey",
// "bad_checkpoint", "bad_request"), never throw.
// Thread-safety: plain values and functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "audit/merkle.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit::note {

// Signature type bytes (signed-note, "Signature types").
enum class KeyType : std::uint8_t {
  kEd25519 = 0x01,         // a log's checkpoint signature
  kCosignatureV1 = 0x04,   // a witness's timestamped Ed25519 cosignature
};

// A key a verifier trusts: name, key ID, type and Ed25519 public key.
struct Verifier {
  std::string name;
  std::uint32_t key_id = 0;
  KeyType type = KeyType::kEd25519;
  crypto::Ed25519PublicKey key{};
};

// RFC 4648 section 4 base64, with padding. decode refuses anything that
// is not the canonical encoding of its bytes.
std::string base64_encode(std::span<const std::uint8_t> bytes);
std::optional<crypto::Bytes> base64_decode(std::string_view text);

// Whether `name` may be a key name or an origin we create: printable ASCII,
// no space, no '+', not empty, at most 255 bytes. (Notes we parse may carry
// other names; they simply match no key of ours.)
bool valid_key_name(std::string_view name);

// SHA-256(name || "\n" || type || key)[:4], big-endian.
std::uint32_t key_id(std::string_view name, KeyType type, const crypto::Ed25519PublicKey& key);
Verifier make_verifier(std::string name, KeyType type, const crypto::Ed25519PublicKey& key);
// "<name>+<8 hex>+base64(type || key)".
std::string vkey_text(const Verifier& verifier);
// Error "bad_vkey": malformed, a type other than 0x01 or 0x04, a key that is
// not 32 bytes, or a key ID that is not the one the name and key give.
Result<Verifier> parse_vkey(std::string_view text);

struct Signature {
  std::string name;
  std::uint32_t key_id = 0;
  crypto::Bytes signature;  // after the key ID
  std::string line;         // the whole line, with its newline
};

struct Note {
  std::string text;  // up to and including the newline before the blank line
  std::vector<Signature> signatures;
};

inline constexpr std::size_t kMaxNoteBytes = 64 * 1024;
inline constexpr std::size_t kMaxSignatures = 100;

// Parses a signed note: valid UTF-8 without control characters but newline,
// text ending in newline, the last blank line separating it from one or
// more well-formed signature lines. Error "bad_note".
Result<Note> parse_note(std::string_view note);
std::string note_text_with_signatures(const Note& note);  // text + "\n" + lines

// "— <name> base64(key ID || signature)\n".
std::string signature_line(std::string_view name, std::uint32_t key_id,
                           std::span<const std::uint8_t> signature);

// An Ed25519 note signature (type 0x01) over `text`, as a signature line.
std::string sign_ed25519(const crypto::Ed25519Signer& signer, std::string_view name,
                         std::string_view text);
// The message a cosignature/v1 signs.
std::string cosignature_message(std::string_view text, std::uint64_t timestamp);
// A cosignature/v1 (type 0x04) over the checkpoint text at `timestamp`
// (POSIX seconds), as a signature line.
std::string cosign(const crypto::Ed25519Signer& signer, std::string_view name,
                   std::string_view checkpoint_text, std::uint64_t timestamp);

struct VerifiedSignature {
  std::string name;
  KeyType type = KeyType::kEd25519;
  std::uint64_t timestamp = 0;  // cosignatures only
};

// Checks `note` against `trusted`, as signed-note requires: signatures whose
// (name, key ID) match no trusted key are ignored; one that matches but does
// not verify fails the whole note (error "bad_signature"); no verified
// signature at all is error "no_trusted_signature". Cosignatures with a zero
// timestamp or one above 2^63-1 do not verify.
Result<std::vector<VerifiedSignature>> verify_note(const Note& note,
                                                   std::span<const Verifier> trusted);

}  // namespace hfv::audit::note

namespace hfv::audit {

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  merkle::Hash root{};
  std::vector<std::string> extensions;  // we write none; kept when parsed
};

std::string checkpoint_text(const Checkpoint& checkpoint);
// Error "bad_checkpoint": fewer than three lines, an empty origin, a size
// that is not canonical decimal, a root that is not 32 bytes of canonical
// base64, an empty extension line.
Result<Checkpoint> parse_checkpoint(std::string_view text);

// The origin a log uses when the configuration names none:
// "hfv/audit/<key id>" (tree_head.hpp audit_key_id: 16 hex of SHA-256 of
// the log's public key). Stable for the life of the log's key.
std::string default_origin(const crypto::Ed25519PublicKey& log_key);
// Whether `origin` may be configured: a valid key name (note::valid_key_name)
// that does not start with "hfv-audit-", the prefix of the other messages
// the log's key signs (tree heads, exports), so no checkpoint text can be
// one of them.
bool valid_origin(std::string_view origin);

// The checkpoint note a log with key `signer` signs for a tree: the text and
// the log's signature line under the key name `origin`.
std::string signed_checkpoint(const crypto::Ed25519Signer& signer, const Checkpoint& checkpoint);

// tlog-witness add-checkpoint.
inline constexpr std::size_t kMaxProofLines = 63;
struct AddCheckpoint {
  std::uint64_t old_size = 0;
  std::vector<merkle::Hash> proof;
  std::string checkpoint_note;  // the rest of the body
};
std::string add_checkpoint_body(std::uint64_t old_size, std::span<const merkle::Hash> proof,
                                std::string_view checkpoint_note);
// Error "bad_request": no "old <n>" line, a proof line that is not one
// base64 hash, more than 63 of them, no blank line.
Result<AddCheckpoint> parse_add_checkpoint(std::string_view body);

// The cosigned checkpoints a broker keeps beside its anchor,
// `<anchor>.cosigned` (docs/audit-log-format.md):
//   {"format": "hfv-audit-cosigned/v1", "origin": "...",
//    "witnesses": {"<witness name>": "<checkpoint note: log signature and
//                                      the witness's cosignature>"}}
// replaced atomically. Error "bad_cosigned" when malformed; an absent file
// reads as empty.
inline constexpr std::string_view kCosignedFormat = "hfv-audit-cosigned/v1";
struct CosignedFile {
  std::string origin;
  std::map<std::string, std::string> checkpoints;  // witness name -> note
};
std::filesystem::path cosigned_path(const std::filesystem::path& anchor_file);
Result<CosignedFile> read_cosigned(const std::filesystem::path& file);
Status write_cosigned(const std::filesystem::path& file, const CosignedFile& cosigned);

// Lowercase hex SHA-256 of the origin: the path element of a witness's
// GET <prefix>/<origin hash>/checkpoint.
std::string origin_hash(std::string_view origin);

}  // namespace hfv::audit
