// Compression of values the cluster backend seals into PostgreSQL columns
// (broker/store/postgresql/schema.hpp): a 4-member household's report is
// about 35 KB of JSON, and every byte of it goes to the WAL, to the data
// files (twice: extension, then write-back), to the synchronous standby and
// to the WAL archive. Zstandard frames (RFC 8878) at a fast level.
// Thread-safety: free functions without shared state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hfv::storage {

// A zstd frame of `plain` (level 3).
std::string zstd_compress(std::string_view plain);

// True when `bytes` begins with the zstd frame magic (28 B5 2F FD), a
// byte that neither JSON text nor UTF-8 text begins with.
bool is_zstd_frame(std::string_view bytes);

// The content of one zstd frame, or nullopt when it is not one well-formed
// frame or its content would exceed `max_bytes` (checked from the frame
// header and again while decompressing).
std::optional<std::string> zstd_decompress(std::string_view frame, std::size_t max_bytes);

}  // namespace hfv::storage
