// authenticate_pages (page_check.hpp): the main file page by page, then the
// WAL frame by frame, then SQLite's integrity_check.
#include "storage/page_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>
#include <system_error>
#include <thread>
#include <vector>

#include "crypto/hash.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::storage {

namespace {

// SQLCipher 3.4 defaults (crypto.h: FILE_HEADER_SZ, CIPHER_MAX_IV_SZ,
// HMAC_SALT_MASK, FAST_PBKDF2_ITER; the reserve is IV + SHA-1 tag rounded
// up to the AES block).
constexpr std::size_t kPage = kSqlcipherPageSize;
constexpr std::size_t kSaltSize = 16;
constexpr std::size_t kIvSize = 16;
constexpr std::size_t kTagSize = 20;
constexpr std::size_t kReserve = 48;
constexpr std::uint8_t kHmacSaltMask = 0x3a;
constexpr unsigned kFastKdfIterations = 2;

// SQLite's WAL format (wal.c): a 32-byte header, then frames of a 24-byte
// header and one page.
constexpr std::size_t kWalHeader = 32;
constexpr std::size_t kFrameHeader = 24;
constexpr std::uint32_t kWalMagic = 0x377f0682;  // | 1: checksums over big-endian words

constexpr int kRereads = 3;
constexpr std::int64_t kRereadPages = 4;
constexpr std::chrono::milliseconds kRereadPause{20};

using Page = std::array<std::uint8_t, kPage>;

std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::uint32_t load_le32(const std::uint8_t* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) |
         std::uint32_t{p[0]};
}

// SQLCipher's per-page MAC under the key derived for one file.
class PageMac {
 public:
  PageMac(const crypto::SecretKey& key, std::span<const std::uint8_t> salt)
      : hmac_(derive(key, salt).bytes()) {}

  bool authentic(const Page& page, std::uint32_t pgno) const {
    const std::size_t start = pgno == 1 ? kSaltSize : 0;
    const std::size_t tag_at = kPage - kReserve + kIvSize;  // ciphertext, IV, then the tag
    const std::array<std::uint8_t, 4> number = {
        static_cast<std::uint8_t>(pgno), static_cast<std::uint8_t>(pgno >> 8),
        static_cast<std::uint8_t>(pgno >> 16), static_cast<std::uint8_t>(pgno >> 24)};
    const auto tag = hmac_.mac({std::span(page).subspan(start, tag_at - start), number});
    return crypto::constant_time_equal(tag, std::span(page).subspan(tag_at, kTagSize));
  }

 private:
  static crypto::SecretKey derive(const crypto::SecretKey& key,
                                  std::span<const std::uint8_t> salt) {
    std::array<std::uint8_t, kSaltSize> mac_salt{};
    for (std::size_t i = 0; i < kSaltSize; ++i)
      mac_salt[i] = static_cast<std::uint8_t>(salt[i] ^ kHmacSaltMask);
    return crypto::pbkdf2_hmac_sha1(key.bytes(), mac_salt, kFastKdfIterations);
  }

  crypto::HmacSha1 hmac_;
};

class File {
 public:
  explicit File(int fd) : fd_(fd) {}
  ~File() {
    if (fd_ >= 0) (void)::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  static Result<std::unique_ptr<File>> open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) return make_error("not_found", "database file not found: " + path.string());
      return make_error("io_error", "cannot open " + path.string() + ": " +
                                        std::error_code(err, std::generic_category()).message());
    }
    return std::make_unique<File>(fd);
  }

  Result<std::uint64_t> size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return make_error("io_error", "cannot stat a database file");
    return static_cast<std::uint64_t>(st.st_size);
  }

  // Exactly out.size() bytes at `offset`; false on a short read or an error.
  bool read(std::uint64_t offset, std::span<std::uint8_t> out) const {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

 private:
  int fd_;
};

// The main file: every whole page, and whether it ends on a page boundary.
// `live`: a WAL beside the file, so a checkpoint may be writing pages
// while they are read; a failed page is read again then (for the first few
// failures only: many failing pages are not a checkpoint's doing).
Status check_main_file(const File& file, const std::filesystem::path& path, const PageMac& mac,
                       std::uint64_t size, bool live, PageCheckReport& report) {
  const std::uint64_t whole = size / kPage;
  Page page{};
  for (std::uint64_t n = 1; n <= whole; ++n) {
    const auto pgno = static_cast<std::uint32_t>(n);
    const int rereads = live && report.bad_pages < kRereadPages ? kRereads : 0;
    bool good = false;
    for (int attempt = 0; attempt <= rereads && !good; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(kRereadPause);
      if (!file.read((n - 1) * kPage, page)) {
        return make_error("io_error", "cannot read page " + std::to_string(n) + " of " + path.string());
      }
      good = mac.authentic(page, pgno);
    }
    ++report.pages;
    if (!good) {
      ++report.bad_pages;
      if (report.first_bad_page == 0) report.first_bad_page = static_cast<std::int64_t>(n);
    }
  }
  if (report.bad_pages > 0) {
    report.problem = "page " + std::to_string(report.first_bad_page) + " of " +
                     std::to_string(whole) +
                     " fails authentication: the file is damaged or was altered";
    if (report.bad_pages > 1)
      report.problem += " (" + std::to_string(report.bad_pages) + " pages fail)";
  } else if (size % kPage != 0) {
    report.first_bad_page = static_cast<std::int64_t>(whole) + 1;
    report.problem = "the file ends inside page " + std::to_string(whole + 1) + ": " +
                     std::to_string(size) + " bytes is not a whole number of " +
                     std::to_string(kPage) + "-byte pages";
  }
  return {};
}

// SQLite's WAL checksum: running sums over pairs of 32-bit words.
void wal_checksum(bool big_endian, std::span<const std::uint8_t> data, std::uint32_t& s0,
                  std::uint32_t& s1) {
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    const std::uint32_t x0 = big_endian ? load_be32(&data[i]) : load_le32(&data[i]);
    const std::uint32_t x1 = big_endian ? load_be32(&data[i + 4]) : load_le32(&data[i + 4]);
    s0 += x0 + s1;
    s1 += x1 + s0;
  }
}

// The WAL: the frames SQLite would read are authenticated, the rest counted.
Status check_wal(const std::filesystem::path& wal_path, const PageMac& mac,
                 PageCheckReport& report) {
  auto opened = File::open(wal_path);
  if (!opened) {
    if (opened.error().code == "not_found") return {};  // no WAL: the main file is everything
    return opened.error();
  }
  const File& wal = **opened;
  auto size = wal.size();
  if (!size) return size.error();
  const std::uint64_t frame_size = kFrameHeader + kPage;
  const std::uint64_t frames = *size >= kWalHeader ? (*size - kWalHeader) / frame_size : 0;
  std::array<std::uint8_t, kWalHeader> header{};
  bool valid_header = *size >= kWalHeader && wal.read(0, header);
  const std::uint32_t magic = valid_header ? load_be32(header.data()) : 0;
  const bool big_endian = (magic & 1U) != 0;
  std::uint32_t s0 = 0;
  std::uint32_t s1 = 0;
  if (valid_header) {
    wal_checksum(big_endian, std::span(header).first(24), s0, s1);
    valid_header = (magic & ~1U) == kWalMagic && load_be32(&header[8]) == kPage &&
                   s0 == load_be32(&header[24]) && s1 == load_be32(&header[28]);
  }
  if (!valid_header) {  // SQLite ignores the whole WAL
    report.wal_frames_ignored = static_cast<std::int64_t>(frames);
    return {};
  }
  std::vector<std::uint8_t> frame(frame_size);
  std::uint64_t last_commit = 0;     // frames 1..last_commit are what SQLite reads
  std::uint64_t first_bad_tag = 0;   // the first chained frame whose tag fails
  for (std::uint64_t i = 1; i <= frames; ++i) {
    if (!wal.read(kWalHeader + (i - 1) * frame_size, frame)) break;  // shrank: a reset
    const std::uint32_t pgno = load_be32(&frame[0]);
    if (pgno == 0 || std::memcmp(&frame[8], &header[16], 8) != 0) break;
    wal_checksum(big_endian, std::span(frame).first(8), s0, s1);
    wal_checksum(big_endian, std::span(frame).subspan(kFrameHeader), s0, s1);
    if (s0 != load_be32(&frame[16]) || s1 != load_be32(&frame[20])) break;
    Page page{};
    std::memcpy(page.data(), &frame[kFrameHeader], kPage);
    if (first_bad_tag == 0 && !mac.authentic(page, pgno)) first_bad_tag = i;
    if (load_be32(&frame[4]) != 0) last_commit = i;
  }
  report.wal_frames = static_cast<std::int64_t>(last_commit);
  report.wal_frames_ignored = static_cast<std::int64_t>(frames - last_commit);
  if (first_bad_tag != 0 && first_bad_tag <= last_commit) {
    report.first_bad_wal_frame = static_cast<std::int64_t>(first_bad_tag);
    if (report.problem.empty()) {
      report.problem = "WAL frame " + std::to_string(first_bad_tag) + " of " +
                       std::to_string(last_commit) +
                       " fails authentication: the WAL is damaged or was altered";
    }
  }
  return {};
}

}  // namespace

Result<PageCheckReport> authenticate_pages(const std::filesystem::path& db,
                                           const crypto::SecretKey& key) {
  auto opened = File::open(db);
  if (!opened) return opened.error();
  const File& file = **opened;
  auto size = file.size();
  if (!size) return size.error();
  PageCheckReport report;
  std::array<std::uint8_t, kSaltSize> salt{};
  if (*size < kPage || !file.read(0, salt)) {
    report.first_bad_page = 1;
    report.problem = "the file is " + std::to_string(*size) + " bytes, shorter than one page";
    return report;
  }
  const PageMac mac(key, salt);
  const std::filesystem::path wal(db.string() + "-wal");
  std::error_code ec;
  const bool live = std::filesystem::exists(wal, ec);
  if (auto s = check_main_file(file, db, mac, *size, live, report); !s) return s.error();
  if (auto s = check_wal(wal, mac, report); !s) return s.error();
  if (report.ok()) {
    if (auto s = SqlcipherDb::integrity_check_file(db, key); !s) {
      report.problem = "SQLite's integrity check: " + s.error().message;
    } else {
      report.structure_checked = true;
    }
  }
  return report;
}

}  // namespace hfv::storage
