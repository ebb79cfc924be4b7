// Key material: the master key and the keys derived from it.
//
// The master key is 32 random bytes kept in a file of its own (64 lowercase
// hex characters and a newline, mode 0600), never in the configuration file.
// From it only key-encryption keys are derived (HKDF-SHA256 under a distinct
// purpose label); they wrap random data keys kept in keyrings
// (audit/keyring.hpp, broker/store/store_keys.hpp), so a new master key
// re-wraps the keyrings and the old one opens nothing.
// Thread-safety: SecretKey is a value type; functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace hfv::crypto {

// 32 secret bytes, wiped from memory when destroyed.
class SecretKey {
 public:
  static constexpr std::size_t kSize = 32;
  SecretKey() = default;
  explicit SecretKey(std::span<const std::uint8_t, kSize> bytes);
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey();
  static SecretKey random();
  // Overwrites the key with zeros, after its last use (the destructor does
  // too; this is for a key that lives on in a longer scope).
  void wipe();

  std::span<const std::uint8_t, kSize> bytes() const { return bytes_; }

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

// Purpose labels for derive_key(); changing one changes every key derived
// with it, so they carry a version.
// The audit log's key-encryption key: it wraps the audit database's random
// data key and the audit signing seed (audit/keyring.hpp). v2: in v1 the
// derived key was the database key itself.
inline constexpr std::string_view kPurposeAuditDb = "hfv/audit-kek/v2";
// The store keyrings' key-encryption key: it wraps the state and review
// databases' random keys (PostgreSQL: the column-sealing key) and the member
// pseudonym key (broker/store/store_keys.hpp).
inline constexpr std::string_view kPurposeStoreKek = "hfv/store-kek/v1";
// Legacy: before the store keyrings these keys were derived from the master
// key itself. Read only to migrate an existing installation (the state
// database is re-encrypted under a random key; the pseudonym key of an
// existing installation is kept, wrapped).
inline constexpr std::string_view kPurposeMemberPseudonym = "hfv/member-pseudonym/v1";
inline constexpr std::string_view kPurposeStateDb = "hfv/state-db/v1";

// HKDF-SHA256(ikm = master, salt = "hfv", info = purpose), 32 bytes.
SecretKey derive_key(const SecretKey& master, std::string_view purpose);

// Creates a new master key file (O_CREAT|O_EXCL, mode 0600, fsync'd).
// Error code "exists" when the file is already there: never overwritten.
Status create_master_key_file(const std::filesystem::path& path);

// Loads a master key file. Error codes: "not_found", "key_file_mode" (group
// or others may read or write it), "bad_key_file" (not 64 hex characters
// plus an optional trailing newline), "io_error".
Result<SecretKey> load_master_key_file(const std::filesystem::path& path);

// Where the master key comes from, first match wins:
//   1. environment variable HFV_MASTER_KEY (64 hex characters);
//   2. a systemd credential: $CREDENTIALS_DIRECTORY/master.key (the file
//      format of load_master_key_file; the mode check applies);
//   3. `fallback_file` (the configuration's master_key_file), if not empty.
// Never the configuration file itself. `source` (optional) receives
// "env", "credential" or "file". Error codes: those of
// load_master_key_file, "bad_key_env" (HFV_MASTER_KEY malformed), and
// "not_found" when no source is available.
Result<SecretKey> load_master_key(const std::filesystem::path& fallback_file,
                                  std::string* source = nullptr);

// Overwrites HFV_MASTER_KEY's value in place (so /proc/<pid>/environ and a
// memory image no longer hold it) and removes the variable. For the
// daemon, once the key is loaded; not thread-safe (call before threads).
void erase_master_key_env();

}  // namespace hfv::crypto
