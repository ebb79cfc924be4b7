#include "common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>

namespace hfv {

namespace {

// Thread-safe, unlike std::strerror.
std::string errno_text(int err) { return std::generic_category().message(err); }

// Best effort: makes a new directory entry durable.
void fsync_parent_dir(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  (void)::close(fd);
}

// "<path>.tmp-<pid>-<n>": unique within this process by the counter and
// across live processes by the pid; a leftover from a dead process with the
// same pid is skipped, as write_new_file never overwrites.
std::filesystem::path temporary_name(const std::filesystem::path& path) {
  static std::atomic<unsigned long> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  return tmp;
}

}  // namespace

Status write_new_file(const std::filesystem::path& path, std::string_view content, unsigned mode) {
  const auto file_mode = static_cast<mode_t>(mode & 07777U);
  const int fd =
      ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY, file_mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return make_error("exists", path.string() + " already exists; it is never overwritten");
    }
    return make_error("io_error", "cannot create " + path.string() + ": " + errno_text(err));
  }
  auto fail = [&](const std::string& what, int err) -> Status {
    (void)::close(fd);
    (void)::unlink(path.c_str());
    return make_error("io_error", what + " " + path.string() + ": " + errno_text(err));
  };
  // The umask may have removed bits; set exactly the requested mode.
  if (::fchmod(fd, file_mode) != 0) return fail("cannot chmod", errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot fsync", errno);
  if (::close(fd) != 0) {
    const int err = errno;
    (void)::unlink(path.c_str());
    return make_error("io_error", "cannot close " + path.string() + ": " + errno_text(err));
  }
  fsync_parent_dir(path);
  return Status::success();
}

Status replace_file_atomically(const std::filesystem::path& path, std::string_view content,
                               unsigned mode) {
  constexpr int kAttempts = 100;
  std::filesystem::path tmp;
  Status written = Status::success();
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    tmp = temporary_name(path);
    written = write_new_file(tmp, content, mode);
    if (written.ok() || written.error().code != "exists") break;
  }
  if (!written) return written;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    (void)::unlink(tmp.c_str());
    return make_error("io_error", "cannot rename onto " + path.string() + ": " + errno_text(err));
  }
  fsync_parent_dir(path);
  return Status::success();
}

}  // namespace hfv
