#include "simulator/request_log.hpp"

#include "common/time.hpp"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

namespace hfv::sim {

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

std::string request_log_line(const RequestRecord& record, std::chrono::system_clock::time_point t) {
  nlohmann::ordered_json line = {
      {"ts", hfv::utc_timestamp(t)},
      {"agency", record.agency},
      {"path", record.path},
      {"person_sha256", record.person.empty() ? "" : sha256_hex(record.person)},
      {"status", record.status},
      {"fault", record.fault}};
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

RequestLog::RequestLog(const std::filesystem::path& file) {
  file_ = std::fopen(file.c_str(), "a");
  if (file_ == nullptr) {
    const int err = errno;
    throw std::runtime_error("cannot open request log " + file.string() + ": " +
                             std::generic_category().message(err));
  }
}

RequestLog::~RequestLog() {
  if (file_ != nullptr) (void)std::fclose(file_);  // every line was flushed by append()
}

bool RequestLog::append(const RequestRecord& record) {
  const std::string line = request_log_line(record, std::chrono::system_clock::now()) + "\n";
  const bool written = std::fwrite(line.data(), 1, line.size(), file_) == line.size();
  return std::fflush(file_) == 0 && written;
}

}  // namespace hfv::sim
