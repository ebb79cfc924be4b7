// JSON logs: one object per line, level filtering, and the redaction that
// keeps personal data out even when a caller passes it by mistake.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "broker/ops/log.hpp"

namespace b = hfv::broker;
using nlohmann::json;

TEST_CASE("ops: log levels parse from their config names", "[ops][log]") {
  CHECK(b::parse_log_level("debug") == b::LogLevel::kDebug);
  CHECK(b::parse_log_level("info") == b::LogLevel::kInfo);
  CHECK(b::parse_log_level("warn") == b::LogLevel::kWarn);
  CHECK(b::parse_log_level("error") == b::LogLevel::kError);
  CHECK_FALSE(b::parse_log_level("INFO").has_value());
  CHECK_FALSE(b::parse_log_level("verbose").has_value());
}

TEST_CASE("ops: a log line is one JSON object whose fixed keys cannot be overridden", "[ops][log]") {
  const std::string line =
      b::format_log_line(b::LogLevel::kWarn, "agency_slow", {{"agency", "bank"}, {"event", "spoofed"}, {"ms", 12}},
                         "2026-12-01T00:00:00.000Z");
  CHECK(line.find('\n') == std::string::npos);
  const json j = json::parse(line);
  CHECK(j["event"] == "agency_slow");
  CHECK(j["level"] == "warn");
  CHECK(j["ts"] == "2026-12-01T00:00:00.000Z");
  CHECK(j["agency"] == "bank");
  CHECK(j["ms"] == 12);
}

TEST_CASE("ops: personal fields and ID numbers are redacted from logs", "[ops][log]") {
  const json j = json::parse(b::format_log_line(
      b::LogLevel::kInfo, "oops",
      {{"id_number", "230102197503120016"},
       {"name", "张伟"},
       {"case_id", "HRB-1"},
       {"reason", "bad member 23010219780805002X in request"},
       {"nested", {{"operator_id", "op-1"}, {"list", json::array({"110108199001011234", "fine"})}}},
       {"count", 3}},
      "t"));
  const std::string text = j.dump();
  CHECK(text.find("230102197503120016") == std::string::npos);
  CHECK(text.find("23010219780805002X") == std::string::npos);
  CHECK(text.find("110108199001011234") == std::string::npos);
  CHECK(text.find("HRB-1") == std::string::npos);
  CHECK(text.find("op-1") == std::string::npos);
  CHECK(j["name"] == "[redacted]");
  CHECK(j["nested"]["list"][1] == "fine");
  CHECK(j["count"] == 3);
  // Short digit runs (ports, counts, division codes) stay.
  const json k = json::parse(b::format_log_line(b::LogLevel::kInfo, "x", {{"reason", "port 8443 code 230100"}}, "t"));
  CHECK(k["reason"] == "port 8443 code 230100");
}

TEST_CASE("ops: log_event drops lines below the configured level", "[ops][log]") {
  std::FILE* sink = std::tmpfile();
  REQUIRE(sink != nullptr);
  b::set_log_stream(sink);
  b::set_log_level(b::LogLevel::kWarn);
  b::log_event(b::LogLevel::kInfo, "hidden");
  b::log_event(b::LogLevel::kError, "shown", {{"k", "v"}});
  b::set_log_level(b::LogLevel::kInfo);
  b::set_log_stream(nullptr);
  std::rewind(sink);
  char buf[4096] = {};
  const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, sink);
  std::fclose(sink);
  const std::string out(buf, n);
  CHECK(out.find("hidden") == std::string::npos);
  REQUIRE(out.find("shown") != std::string::npos);
  const json j = json::parse(out.substr(0, out.find('\n')));
  CHECK(j["level"] == "error");
  CHECK(j["k"] == "v");
}

TEST_CASE("ops: lines to the systemd journal start with their syslog priority, lines elsewhere are plain JSON",
          "[ops][log]") {
  std::FILE* journal = std::tmpfile();
  std::FILE* other = std::tmpfile();
  REQUIRE(journal != nullptr);
  REQUIRE(other != nullptr);
  // systemd names the journal's stream by device and inode (systemd.exec(5)).
  struct stat st {};
  REQUIRE(::fstat(::fileno(journal), &st) == 0);
  const std::string names = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  REQUIRE(::setenv("JOURNAL_STREAM", names.c_str(), 1) == 0);
  CHECK(b::writes_to_journal(journal));
  CHECK_FALSE(b::writes_to_journal(other));
  const auto lines_of = [](std::FILE* sink) {
    std::rewind(sink);
    char buf[4096] = {};
    const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, sink);
    return std::string(buf, n);
  };
  b::set_log_stream(journal);
  b::log_event(b::LogLevel::kError, "disk_full");
  b::log_event(b::LogLevel::kWarn, "crl_soon_stale");
  b::log_event(b::LogLevel::kInfo, "started");
  b::set_log_stream(other);
  b::log_event(b::LogLevel::kError, "disk_full");
  b::set_log_stream(nullptr);
  ::unsetenv("JOURNAL_STREAM");
  const std::string in_journal = lines_of(journal);
  CHECK(in_journal.rfind("<3>{", 0) == 0);
  CHECK(in_journal.find("\n<4>{") != std::string::npos);
  CHECK(in_journal.find("\n<6>{") != std::string::npos);
  CHECK(json::parse(in_journal.substr(3, in_journal.find('\n') - 3))["event"] == "disk_full");
  const std::string elsewhere = lines_of(other);
  CHECK(json::parse(elsewhere.substr(0, elsewhere.find('\n')))["event"] == "disk_full");  // no prefix
  std::fclose(journal);
  std::fclose(other);
}
