#include "crypto/keys.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "common/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/internal.hpp"

namespace hfv::crypto {

namespace {

// Thread-safe, unlike std::strerror.
std::string errno_text(int err) { return std::generic_category().message(err); }

}  // namespace

namespace internal {

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

Result<std::string> read_private_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return make_error("not_found", "key file " + path.string() + " does not exist");
    }
    return make_error("io_error", "cannot open " + path.string() + ": " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    (void)::close(fd);
    return make_error("io_error", "cannot stat " + path.string() + ": " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    (void)::close(fd);
    return make_error("io_error", path.string() + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    (void)::close(fd);
    return make_error("key_file_mode", "key file " + path.string() +
                                           " is accessible by group or others; run chmod 600 " +
                                           path.string());
  }
  std::string content;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      OPENSSL_cleanse(buf, sizeof buf);
      wipe(content);
      (void)::close(fd);
      return make_error("io_error", "cannot read " + path.string() + ": " + errno_text(err));
    }
    if (n == 0) break;
    if (content.size() + static_cast<std::size_t>(n) > (1U << 20)) {
      OPENSSL_cleanse(buf, sizeof buf);
      wipe(content);
      (void)::close(fd);
      return make_error("io_error", "key file " + path.string() + " is too large");
    }
    // Grow by hand so no reallocation leaves unwiped copies behind.
    if (content.capacity() < content.size() + static_cast<std::size_t>(n)) {
      std::string bigger;
      bigger.reserve(2 * (content.size() + static_cast<std::size_t>(n)));
      bigger.append(content);
      wipe(content);
      content.swap(bigger);
    }
    content.append(buf, static_cast<std::size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof buf);
  (void)::close(fd);
  return content;
}

}  // namespace internal

SecretKey::SecretKey(std::span<const std::uint8_t, kSize> bytes) {
  std::memcpy(bytes_.data(), bytes.data(), kSize);
}

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

void SecretKey::wipe() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

void erase_master_key_env() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): called before any thread starts.
  if (char* value = std::getenv("HFV_MASTER_KEY"); value != nullptr) {
    OPENSSL_cleanse(value, std::strlen(value));
    ::unsetenv("HFV_MASTER_KEY");  // NOLINT(concurrency-mt-unsafe): as above
  }
}

SecretKey SecretKey::random() {
  SecretKey key;
  if (RAND_bytes(key.bytes_.data(), static_cast<int>(kSize)) != 1) {
    throw std::runtime_error("system random generator failed");
  }
  return key;
}

SecretKey derive_key(const SecretKey& master, std::string_view purpose) {
  Bytes okm = hkdf_sha256(master.bytes(), "hfv", purpose, SecretKey::kSize);
  SecretKey key(std::span<const std::uint8_t, SecretKey::kSize>(okm.data(), SecretKey::kSize));
  OPENSSL_cleanse(okm.data(), okm.size());
  return key;
}

Status create_master_key_file(const std::filesystem::path& path) {
  const SecretKey key = SecretKey::random();
  const internal::WipedString hex(to_hex(key.bytes()));
  internal::WipedString content;
  content.str().reserve(hex.str().size() + 1);
  content.str().append(hex.str()).push_back('\n');
  return write_new_file(path, content.str(), 0600);
}

Result<SecretKey> load_master_key(const std::filesystem::path& fallback_file,
                                  std::string* source) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): no part of the process calls setenv or putenv.
  if (const char* env = std::getenv("HFV_MASTER_KEY"); env != nullptr && *env != '\0') {
    std::string_view text(env);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    auto bytes = text.size() == 2 * SecretKey::kSize ? from_hex(text) : std::nullopt;
    if (!bytes) {
      return make_error("bad_key_env", "HFV_MASTER_KEY must hold 64 hex characters");
    }
    SecretKey key(std::span<const std::uint8_t, SecretKey::kSize>(bytes->data(), SecretKey::kSize));
    OPENSSL_cleanse(bytes->data(), bytes->size());
    if (source != nullptr) *source = "env";
    return key;
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): as above.
  if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
    const std::filesystem::path credential = std::filesystem::path(dir) / "master.key";
    std::error_code ec;
    if (std::filesystem::exists(credential, ec)) {
      if (source != nullptr) *source = "credential";
      return load_master_key_file(credential);
    }
  }
  if (fallback_file.empty()) {
    return make_error("not_found",
                      "no master key: set HFV_MASTER_KEY, a systemd credential master.key or "
                      "master_key_file");
  }
  if (source != nullptr) *source = "file";
  return load_master_key_file(fallback_file);
}

Result<SecretKey> load_master_key_file(const std::filesystem::path& path) {
  auto read = internal::read_private_file(path);
  if (!read.ok()) return read.error();
  internal::WipedString content(std::move(read).value());
  std::string_view text = content.str();
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const auto bad = [&] {
    return make_error("bad_key_file",
                      "key file " + path.string() + " must hold 64 hex characters and a newline");
  };
  if (text.size() != 2 * SecretKey::kSize) return bad();
  auto bytes = from_hex(text);
  if (!bytes) return bad();
  SecretKey key(std::span<const std::uint8_t, SecretKey::kSize>(bytes->data(), SecretKey::kSize));
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return key;
}

}  // namespace hfv::crypto
