// Durable file writes, shared by every part that leaves a file behind (key
// files, audit tree heads, PID and port files): a new file created with an
// exact mode and never overwritten, and an atomic replacement. POSIX only;
// the one piece of I/O in common/.
// Thread-safety: the functions are thread-safe (two writers of one path
// race as they would with the system calls themselves).
#pragma once

#include <filesystem>
#include <string_view>

#include "common/result.hpp"

namespace hfv {

// Writes `content` to a new file with the given mode (O_EXCL, fsync'd).
// Error code "exists" when the file is already there.
Status write_new_file(const std::filesystem::path& path, std::string_view content,
                      unsigned mode);

// Replaces `path` atomically with `content` (temporary file in the same
// folder, fsync, rename, fsync of the folder): after a crash the file holds
// either the old or the new content, never a mix.
Status replace_file_atomically(const std::filesystem::path& path, std::string_view content,
                               unsigned mode);

}  // namespace hfv
