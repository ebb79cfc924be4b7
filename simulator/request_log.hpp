// Request log: one JSON line per agency request (--request-log FILE), so a
// test can see exactly which agencies were asked what, and how they
// answered. The person is recorded only as the SHA-256 of the ID number the
// request named; the raw number is never written.
//
// Ownership: RequestLog owns its FILE. Thread-safety: not thread-safe; the
// simulator uses it from its single io_context thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace hfv::sim {

struct RequestRecord {
  std::string agency;  // "bank"
  std::string path;    // without the query string
  std::string person;  // raw ID number as asked for, "" if none; hashed when written
  int status = 0;      // HTTP status sent; 0 when no answer is sent (timeout, reset)
  std::string fault;   // fault kind name, "" for none
};

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
// The log line, without the trailing newline. person_sha256 is "" when the
// request named nobody.
std::string request_log_line(const RequestRecord& record, std::chrono::system_clock::time_point t);

class RequestLog {
 public:
  // Opens `file` for appending. Throws std::runtime_error if it cannot.
  explicit RequestLog(const std::filesystem::path& file);
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // Appends and flushes one line. Returns false on a write error.
  bool append(const RequestRecord& record);

 private:
  std::FILE* file_ = nullptr;
};

}  // namespace hfv::sim
