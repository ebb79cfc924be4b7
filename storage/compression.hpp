// Compression of the values the cluster backend seals into PostgreSQL
// columns (the broker's stores, broker/store/postgresql/schema.hpp, and the
// audit log's records, audit/postgresql_log.hpp): a 4-member household's
// report is about 35 KB of JSON, and every byte of it goes to the WAL, to
// the data files (twice: extension, then write-back), to the synchronous
// standby and to the WAL archive. Zstandard frames (RFC 8878), level 3.
// Thread-safety: free functions; each thread keeps its own zstd contexts.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/keys.hpp"

namespace hfv::storage {

// A zstd frame of `plain` (its content size in the header).
std::string zstd_compress(std::string_view plain);

// True when `bytes` begins with the zstd frame magic (28 B5 2F FD): JSON
// text never does.
bool is_zstd_frame(std::string_view bytes);

// The content of one zstd frame, or nullopt when it is not exactly one
// well-formed frame, does not declare its content size (zstd_compress
// always does), declares more than `max_bytes`, or expands to other than
// what it declares (it is expanded into a buffer of the declared size).
std::optional<std::string> zstd_decompress(std::string_view frame, std::size_t max_bytes);

// crypto::aes256gcm_seal_hex of `plain`, or of a zstd frame of it when
// `plain` has at least `compress_from` bytes and the frame is shorter.
std::string seal_hex_compressed(const crypto::SecretKey& key, std::string_view plain,
                                std::string_view associated_data, std::size_t compress_from);

// What seal_hex_compressed (or crypto::aes256gcm_seal_hex, for a value
// that never begins with the frame magic) sealed. nullopt when the box is
// not hex or does not open (edited, moved, another key), or when it holds
// a frame that is malformed or expands past `max_bytes`.
std::optional<std::string> open_hex_compressed(const crypto::SecretKey& key, std::string_view box_hex,
                                               std::string_view associated_data, std::size_t max_bytes);

}  // namespace hfv::storage
