// Page authentication of a SqlcipherDb file (storage/sqlcipher_db.hpp): every
// page of the file, not only those a query happens to read, checked the way
// SQLCipher checks a page when it reads one. SQLCipher 3.4 has no command
// for this (PRAGMA cipher_integrity_check is 4.x), so the format is
// recomputed here, from SQLCipher 3's crypto_impl.c (docs/audit-log-format.md,
// "Page authentication"):
//   - pages of 4096 bytes; page 1 starts with the file's 16-byte salt, in clear;
//   - each page ends with a 48-byte reserve: a 16-byte IV, the 20-byte
//     HMAC-SHA1 tag, 12 bytes of random filler (read by nothing, so not
//     authenticated);
//   - the tag is HMAC-SHA1 over the page's ciphertext (from byte 16 on page
//     1, byte 0 elsewhere) and the IV, then the page number as 4 bytes
//     little-endian, under PBKDF2-HMAC-SHA1(raw key, salt XOR 0x3a, 2, 32).
// The tag is over the ciphertext, so a page that authenticates also
// decrypts as SQLCipher wrote it; then SQLite's PRAGMA integrity_check
// checks the b-trees' structure.
//
// The WAL (`<db>-wal`), when there is one: its frames hold pages in the same
// format. The frames SQLite would read (its rules: the WAL header's checksum,
// each frame's salts and running checksum, up to the last commit frame) are
// authenticated too; frames past that end (an unfinished transaction, a
// previous generation of the WAL, or damage that cut the checksum chain)
// are counted as ignored, as SQLite ignores them.
//
// Beside a running writer (the daemon's log in WAL mode): a checkpoint may
// be copying a page into the file while it is read, so when there is a WAL
// a page that fails is read again (three times, 20 ms apart; for the first
// four failing pages) before it is reported; the WAL is
// read without locks and a frame being written fails its checksum, so it
// ends the frames SQLite would read and is never reported as bad.
//
// Thread-safety: a pure function over files; it takes no lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/result.hpp"
#include "crypto/keys.hpp"

namespace hfv::storage {

inline constexpr std::size_t kSqlcipherPageSize = 4096;

struct PageCheckReport {
  std::int64_t pages = 0;                // whole pages in the main file, each authenticated
  std::int64_t bad_pages = 0;            // of them, those that failed
  std::int64_t first_bad_page = 0;       // page number (1-based); 0 when none
  std::int64_t wal_frames = 0;           // WAL frames SQLite would read, each authenticated
  std::int64_t wal_frames_ignored = 0;   // frames past that end (SQLite ignores them)
  std::int64_t first_bad_wal_frame = 0;  // frame number (1-based); 0 when none
  bool structure_checked = false;        // PRAGMA integrity_check ran and answered "ok"
  std::string problem;                   // the first thing wrong; empty when all is well

  bool ok() const { return problem.empty(); }
};

// Authenticates every page of `db` (and of its WAL) with `key`, then runs
// PRAGMA integrity_check on a read-only connection when every page passed.
// A damaged file is a report (problem set, first bad page named), not an
// error. Error codes, when the check cannot run: "not_found", "io_error".
// A wrong key makes every page fail: page 1 is reported.
Result<PageCheckReport> authenticate_pages(const std::filesystem::path& db,
                                           const crypto::SecretKey& key);

}  // namespace hfv::storage
