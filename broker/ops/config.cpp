#include "broker/ops/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <tuple>

#include "common/json_error.hpp"
#include "crypto/hash.hpp"

#ifndef HFV_DEFAULT_DIVISIONS_DIR
#define HFV_DEFAULT_DIVISIONS_DIR "/usr/share/hfv/divisions"
#endif
#ifndef HFV_DEFAULT_POLICIES_DIR
#define HFV_DEFAULT_POLICIES_DIR "/usr/share/hfv/policies"
#endif
#ifndef HFV_INSTALL_DATADIR
#define HFV_INSTALL_DATADIR "share"
#endif

namespace hfv::broker {

using nlohmann::json;

std::string_view storage_backend_name(StorageBackend backend) {
  switch (backend) {
    case StorageBackend::kSqlcipher: return "sqlcipher";
    case StorageBackend::kPostgresql: return "postgresql";
  }
  return "unknown";
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kCaseSystem: return "case_system";
    case Role::kSupervisor: return "supervisor";
    case Role::kAdmin: return "admin";
    case Role::kPeerBroker: return "peer_broker";
  }
  return "unknown";
}

bool Principal::covers(const std::string& code) const {
  return std::any_of(jurisdictions.begin(), jurisdictions.end(),
                     [&](const std::string& prefix) { return code.starts_with(prefix); });
}

bool Principal::sees(const std::string& jurisdiction) const {
  return jurisdiction.empty() ? whole_centre : covers(jurisdiction);
}

std::string common_division_prefix(const std::vector<std::string>& codes) {
  if (codes.empty()) return {};
  std::string common = codes.front();
  for (const auto& j : codes) {
    std::size_t n = 0;
    while (n < common.size() && n < j.size() && common[n] == j[n]) ++n;
    common.resize(n);
  }
  // Division codes are read two digits at a time (province, city, county).
  common.resize(common.size() - common.size() % 2);
  return common;
}

std::string Principal::scope() const { return common_division_prefix(jurisdictions); }

bool Principal::is_certificate(const crypto::PeerCertificate& peer) const {
  if (peer.subject_cn_count != 1 || peer.subject_cn != certificate_cn) return false;
  if (!subject.empty() && peer.subject != subject) return false;
  // Without an issuer named, only the centre's own CA: the verified chain
  // is the certificate and a trust anchor of tls.ca_file.
  if (issuer.empty() ? peer.chain_length != 2 : peer.issuer != issuer) return false;
  return spki_sha256.empty() ||
         std::find(spki_sha256.begin(), spki_sha256.end(), peer.spki_sha256) != spki_sha256.end();
}

bool is_config_key(std::string_view key) {
  static constexpr std::string_view kKeys[] = {
      "listen",      "port_file",    "tls",           "master_key_file",  "signing_key_file",
      "audit_db",    "state_db",     "policies_dir",  "divisions_dir",    "verification_deadline_ms",
      "max_body_bytes", "max_in_flight", "repeat_window_hours", "retention", "principals",
      "agencies",    "audit",        "anomalies",     "log_level",        "pid_file",
      "review",      "storage",      "limits",        "centre",           "peers",
      "transfer_threads"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

std::filesystem::path shipped_data_dir(std::string_view name) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / HFV_INSTALL_DATADIR / "hfv" / name;
    if (std::filesystem::is_directory(installed, ec)) return installed;
  }
  return name == "policies" ? HFV_DEFAULT_POLICIES_DIR : HFV_DEFAULT_DIVISIONS_DIR;
}

const Principal* Config::principal_for_cn(const std::string& cn) const {
  for (const auto& p : principals) {
    if (p.certificate_cn == cn) return &p;
  }
  return nullptr;
}

const Principal* Config::principal_for(const crypto::PeerCertificate& peer) const {
  if (crypto::client_certificate_refusal(peer, server.verify_depth)) return nullptr;
  const Principal* p = principal_for_cn(peer.subject_cn);
  return p != nullptr && p->is_certificate(peer) ? p : nullptr;
}

const Principal* Config::principal_for_name(const std::string& name) const {
  for (const auto& p : principals) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::filesystem::path reload_status_file(const std::filesystem::path& pid_file) {
  if (pid_file.empty()) return {};
  auto status = pid_file;
  return status.replace_extension(".reload");
}

Result<long> brokerd_pid(const std::filesystem::path& pid_file) {
  if (pid_file.empty()) {
    return make_error("no_pid_file", "the config has no pid_file (and no --pid-file was given)");
  }
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return make_error("no_pid", "no pid in " + pid_file.string());
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (!(comm >> name)) return make_error("not_running", "no process " + std::to_string(pid) + " (stale pid file?)");
  if (name != "brokerd") {
    return make_error("not_brokerd", "process " + std::to_string(pid) + " is " + name + ", not brokerd");
  }
  return pid;
}

json read_config_document(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  json document = json::parse(text.str(), nullptr, false);
  return document.is_object() ? document : json::object();
}

void Config::replace_principals(std::vector<Principal> next) {
  retired_principals_.push_back(std::move(principals));
  principals = std::move(next);
}

namespace {

bool all_digits(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// libpq's connection options (PostgreSQL 15 to 17). A word that is not one
// of them is refused here, before libpq would refuse it with the word in
// its message: after a mis-quoted password (`password=se cret`) that word
// is a piece of the password.
constexpr std::array<std::string_view, 43> kConninfoKeywords = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth",
    "channel_binding", "connect_timeout", "client_encoding", "options", "application_name",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "replication", "sslmode", "sslnegotiation",
    "sslcompression", "sslcert", "sslkey", "sslpassword", "sslcertmode", "sslrootcert", "sslcrl",
    "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version",
    "gssencmode", "krbsrvname", "gsslib", "gssdelegation", "target_session_attrs",
    "load_balance_hosts", "service", "sslkeylogfile", "min_protocol_version"};

bool is_secret_option(std::string_view key) { return key == "password" || key == "sslpassword"; }

bool conninfo_space(char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; }

// A libpq connection string's fields, read as libpq reads them
// (conninfo_parse for key=value, conninfo_uri_parse for postgresql://).
// The reason for a refusal names no value and no unknown word.
std::optional<std::string> read_conninfo(const std::string& text, PostgresqlSettings& out) {
  const bool uri = text.starts_with("postgresql://") || text.starts_with("postgres://");
  if (uri) {
    // postgresql://[user[:password]@][netloc][,...][/dbname][?param=value&...]
    const std::string rest = text.substr(text.find("://") + 3);
    std::size_t start = 0;
    const auto stop = rest.find_first_of("@/");
    if (stop != std::string::npos && rest[stop] == '@') {
      if (rest.substr(0, stop).find(':') != std::string::npos) {
        return "must not hold a password in a postgresql:// URI (libpq may quote a malformed URI "
               "in its errors): use passfile, a client certificate, or the key=value form";
      }
      start = stop + 1;
    }
    const auto query = rest.find('?', start);
    const std::string location = rest.substr(start, query == std::string::npos ? std::string::npos : query - start);
    const auto slash = location.find('/');
    out.hosts = location.substr(0, slash);
    if (slash != std::string::npos) out.dbname = location.substr(slash + 1);
    if (query != std::string::npos) {
      std::stringstream params(rest.substr(query + 1));
      for (std::string param; std::getline(params, param, '&');) {
        std::string key;  // percent-decoded, as libpq decodes it
        const std::string raw = param.substr(0, param.find('='));
        for (std::size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) != 0 &&
              std::isxdigit(static_cast<unsigned char>(raw[i + 2])) != 0) {
            key += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
            i += 2;
          } else {
            key += raw[i];
          }
        }
        if (is_secret_option(key)) {
          return "must not hold a password in a postgresql:// URI (libpq may quote a malformed URI "
                 "in its errors): use passfile, a client certificate, or the key=value form";
        }
        if (key == "connect_timeout") out.has_connect_timeout = true;
      }
    }
    return std::nullopt;
  }
  // key = value ..., a value either bare (backslash escapes the next
  // character) or in single quotes (backslash escapes ' and \).
  std::size_t i = 0;
  std::string previous;  // the last option read, to say where a problem is
  auto after = [&] { return previous.empty() ? std::string("at its start") : "after option " + previous; };
  while (i < text.size()) {
    if (conninfo_space(text[i])) {
      ++i;
      continue;
    }
    std::string key;
    while (i < text.size() && text[i] != '=' && !conninfo_space(text[i])) key += text[i++];
    while (i < text.size() && conninfo_space(text[i])) ++i;
    if (i >= text.size() || text[i] != '=') {
      return "is not a libpq connection string: a word without \"=\" " + after() +
             " (key=value pairs; quote a value with spaces in single quotes)";
    }
    ++i;
    if (std::find(kConninfoKeywords.begin(), kConninfoKeywords.end(), key) == kConninfoKeywords.end()) {
      return "is not a libpq connection string: an option libpq does not know " + after();
    }
    while (i < text.size() && conninfo_space(text[i])) ++i;
    std::string value;
    if (i < text.size() && text[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '\\') {
          if (++i < text.size()) value += text[i++];
        } else if (text[i] == '\'') {
          ++i;
          closed = true;
          break;
        } else {
          value += text[i++];
        }
      }
      if (!closed) return "is not a libpq connection string: an unterminated quoted value of option " + key;
    } else {
      while (i < text.size() && !conninfo_space(text[i])) {
        if (text[i] == '\\') {
          if (++i < text.size()) value += text[i++];
        } else {
          value += text[i++];
        }
      }
    }
    if (key == "host" || (key == "hostaddr" && out.hosts.empty())) out.hosts = value;
    if (key == "port") out.port = value;
    if (key == "dbname") {
      // libpq reads a dbname holding "=" or a URI as a connection string
      // of its own: not checked here, so refused.
      if (value.find('=') != std::string::npos || value.starts_with("postgresql://") ||
          value.starts_with("postgres://")) {
        return "is not a plain libpq connection string: its dbname is a connection string itself; "
               "write those options directly";
      }
      out.dbname = value;
    }
    if (is_secret_option(key)) out.has_password = true;
    if (key == "connect_timeout") out.has_connect_timeout = true;
    previous = key;
  }
  return std::nullopt;
}

// The attributes of an RFC 4514 distinguished name ("CN=a,O=b\\, c"), each
// type with its value unescaped (\\c and \\XX); nullopt when the text is not
// one. Multi-valued RDNs ("+") count as separate attributes.
std::optional<std::vector<std::pair<std::string, std::string>>> dn_attributes(const std::string& dn) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < dn.size()) {
    std::string type;
    while (i < dn.size() && dn[i] != '=') {
      if (dn[i] == ',' || dn[i] == '+' || dn[i] == '\\') return std::nullopt;
      type += dn[i++];
    }
    if (i >= dn.size() || type.empty() || type.find(' ') != std::string::npos) return std::nullopt;
    ++i;
    std::string value;
    while (i < dn.size() && dn[i] != ',' && dn[i] != '+') {
      if (dn[i] != '\\') {
        value += dn[i++];
        continue;
      }
      if (i + 1 >= dn.size()) return std::nullopt;
      if (i + 2 < dn.size() && std::isxdigit(static_cast<unsigned char>(dn[i + 1])) != 0 &&
          std::isxdigit(static_cast<unsigned char>(dn[i + 2])) != 0) {
        value += static_cast<char>(std::stoi(dn.substr(i + 1, 2), nullptr, 16));
        i += 3;
      } else {
        value += dn[i + 1];
        i += 2;
      }
    }
    out.emplace_back(std::move(type), std::move(value));
    if (i < dn.size() && ++i == dn.size()) return std::nullopt;  // a separator ends it
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool is_cn_type(std::string type) {
  for (char& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return type == "CN" || type == "2.5.4.3";
}

// "AB:cd:..." -> "abcd...": a SHA-256 in hex, or "" when it is not one.
std::string spki_pin(const std::string& text) {
  std::string hex;
  for (char ch : text) {
    if (ch == ':') continue;
    if (std::isxdigit(static_cast<unsigned char>(ch)) == 0) return {};
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return hex.size() == 64 ? hex : std::string();
}

bool node_name_ok(const std::string& node) {
  return !node.empty() && node.size() <= 64 && std::all_of(node.begin(), node.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '_' || ch == '-';
  });
}

}  // namespace

std::string json_error_position(std::string_view text, std::size_t byte) {
  return hfv::json_error_position(text, byte);
}

std::string json_error_reason(std::string_view what) { return hfv::json_error_reason(what); }

namespace {

bool is_peer_name(const std::string& name) {
  return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
  });
}

// A list of GB/T 2260 prefixes of whole levels (2, 4 or 6 digits).
Result<std::vector<std::string>> division_prefixes(const json& list) {
  if (!list.is_array() || list.empty()) return make_error("bad_config", "must list at least one division prefix");
  std::vector<std::string> out;
  for (const auto& d : list) {
    const std::string code = d.is_string() ? d.get<std::string>() : std::string();
    if (code.empty() || code.size() > 6 || code.size() % 2 != 0 || !all_digits(code)) {
      return make_error("bad_config", "each must be a 2-, 4- or 6-digit division-code prefix");
    }
    out.push_back(code);
  }
  return out;
}

// One entry of "peers" (docs/configuration.md "Peers").
Result<PeerSettings> parse_peer(const json& e, const std::string& where, const std::filesystem::path& base) {
  auto fail = [&](const std::string& key, const std::string& why) {
    return make_error("bad_config", where + (key.empty() ? "" : "." + key) + ": " + why);
  };
  if (!e.is_object()) return fail("", "must be an object");
  static constexpr std::string_view kKeys[] = {"name",        "url",         "ca_file",          "client_cert_file",
                                               "client_key_file", "report_key", "divisions",      "sources",
                                               "connect_timeout_ms", "timeout_ms", "max_concurrent", "max_attempts",
                                               "breaker_failures", "breaker_cooldown_ms"};
  for (const auto& [key, value] : e.items()) {
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) return fail(key, "unknown key");
  }
  PeerSettings peer;
  peer.name = e.value("name", std::string());
  if (!is_peer_name(peer.name)) return fail("name", "must be 1-32 characters of a-z 0-9 _ -");
  peer.url = e.value("url", std::string());
  while (peer.url.ends_with('/')) peer.url.pop_back();
  if (!peer.url.starts_with("https://") || peer.url.size() <= 8 ||
      peer.url.find_first_of(" \t\r\n?#") != std::string::npos) {
    return fail("url", "must be an https:// URL (a peer is asked about ID numbers: never in clear)");
  }
  auto file = [&](const char* key, std::string& out) -> Status {
    const std::string text = e.value(key, std::string());
    if (text.empty()) return fail(key, "missing: a file path");
    const std::filesystem::path p(text);
    out = (p.is_absolute() ? p : base / p).string();
    return {};
  };
  std::string report_key_file;
  for (auto [key, out] : {std::pair{"ca_file", &peer.tls.ca_file}, std::pair{"client_cert_file", &peer.tls.client_cert_file},
                          std::pair{"client_key_file", &peer.tls.client_key_file},
                          std::pair{"report_key", &report_key_file}}) {
    if (auto s = file(key, *out); !s) return s.error();
  }
  std::ifstream in(report_key_file);
  std::stringstream pem;
  pem << in.rdbuf();
  auto public_key = crypto::ed25519_public_key_from_pem(pem.str());
  if (!in || !public_key) {
    return fail("report_key", "must be the peer's report-signing public key (PEM; GET /v1/keys/report-signing)");
  }
  peer.report_key = *public_key;
  auto divisions = division_prefixes(e.value("divisions", json()));
  if (!divisions) return fail("divisions", divisions.error().message);
  peer.divisions = std::move(*divisions);
  const json sources = e.value("sources", json());
  if (!sources.is_array() || sources.empty()) return fail("sources", "must list at least one source the peer answers");
  for (const auto& s : sources) {
    auto source = parse_source(s.is_string() ? s.get<std::string>() : std::string());
    if (!source) return fail("sources", "each must be a source name (docs/api.md \"Sources\")");
    if (std::find(peer.sources.begin(), peer.sources.end(), *source) != peer.sources.end()) {
      return fail("sources", "a source is listed twice");
    }
    peer.sources.push_back(*source);
  }
  auto integer = [&](const char* key, long low, long high, long& out) -> Status {
    auto v = e.find(key);
    if (v == e.end()) return {};
    if (!v->is_number_integer() || v->get<long>() < low || v->get<long>() > high) {
      return fail(key, "must be an integer from " + std::to_string(low) + " to " + std::to_string(high));
    }
    out = v->get<long>();
    return {};
  };
  long connect = peer.connect_timeout.count(), timeout = peer.timeout.count(),
       concurrent = peer.resilience.max_concurrent, attempts = 2, failures = peer.resilience.breaker_failures,
       cooldown = peer.resilience.breaker_cooldown.count();
  if (auto s = integer("connect_timeout_ms", 1, 60000, connect); !s) return s.error();
  if (auto s = integer("timeout_ms", 1, 600000, timeout); !s) return s.error();
  if (auto s = integer("max_concurrent", 1, 10000, concurrent); !s) return s.error();
  if (auto s = integer("max_attempts", 1, 10, attempts); !s) return s.error();
  if (auto s = integer("breaker_failures", 1, 1000, failures); !s) return s.error();
  if (auto s = integer("breaker_cooldown_ms", 1, 3600000, cooldown); !s) return s.error();
  peer.connect_timeout = std::chrono::milliseconds(connect);
  peer.timeout = std::chrono::milliseconds(timeout);
  peer.resilience.max_concurrent = static_cast<int>(concurrent);
  peer.resilience.max_attempts = static_cast<int>(attempts);
  peer.resilience.breaker_failures = static_cast<int>(failures);
  peer.resilience.breaker_cooldown = std::chrono::milliseconds(cooldown);
  return peer;
}

}  // namespace

Result<Config> load_config(const std::filesystem::path& file) {
  Config c;
  c.file = std::filesystem::absolute(file);
  const auto base = c.file.parent_path();
  auto fail = [&](const std::string& key, const std::string& why) {
    return make_error("bad_config", c.file.string() + ": " + key + ": " + why);
  };
  std::ifstream in(file);
  if (!in) return make_error("bad_config", file.string() + ": cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string content = buf.str();
  json doc;
  try {
    doc = json::parse(content);
  } catch (const json::parse_error& e) {
    return make_error("bad_config", c.file.string() + ":" + json_error_position(content, e.byte) +
                                        ": not valid JSON: " + json_error_reason(e.what()));
  }
  if (!doc.is_object()) return fail("(file)", "not a JSON object");

  for (const auto& [key, value] : doc.items()) {
    if (!is_config_key(key)) return fail(key, "unknown key");
  }
  auto path = [&](const json& obj, const char* key, const std::string& where,
                  std::filesystem::path& out, bool required) -> Status {
    auto it = obj.find(key);
    if (it == obj.end()) return required ? Status(fail(where, "missing")) : Status();
    if (!it->is_string() || it->get<std::string>().empty()) return fail(where, "must be a non-empty path");
    std::filesystem::path p(it->get<std::string>());
    out = p.is_absolute() ? p : base / p;
    return {};
  };

  // listen: "host:port"
  if (auto it = doc.find("listen"); it != doc.end()) {
    if (!it->is_string()) return fail("listen", "must be \"address:port\"");
    const std::string text = it->get<std::string>();
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || !all_digits(text.substr(colon + 1)) ||
        text.size() - colon - 1 > 5 || std::stoul(text.substr(colon + 1)) > 65535) {
      return fail("listen", "must be \"address:port\" with a port from 0 to 65535");
    }
    c.server.listen_address = text.substr(0, colon);
    c.server.listen_port = static_cast<unsigned short>(std::stoul(text.substr(colon + 1)));
  }
  if (auto s = path(doc, "port_file", "port_file", c.server.port_file, false); !s) return s.error();
  if (auto s = path(doc, "pid_file", "pid_file", c.server.pid_file, false); !s) return s.error();
  if (auto it = doc.find("log_level"); it != doc.end()) {
    const auto level = it->is_string() ? parse_log_level(it->get<std::string>()) : std::nullopt;
    if (!level) return fail("log_level", "must be \"debug\", \"info\", \"warn\" or \"error\"");
    c.log_level = *level;
  }
  auto tls = doc.find("tls");
  if (tls == doc.end() || !tls->is_object()) return fail("tls", "missing");
  for (const auto& [key, value] : tls->items()) {
    if (key != "ca_file" && key != "cert_file" && key != "key_file" && key != "crl_file" &&
        key != "crl_warn_hours" && key != "crl_grace_hours" && key != "verify_depth") {
      return fail("tls." + key, "unknown key");
    }
  }
  for (const auto& [key, low, out] : {std::tuple{"crl_warn_hours", 0L, &c.server.crl_warn},
                                      std::tuple{"crl_grace_hours", 0L, &c.server.crl_grace}}) {
    auto it = tls->find(key);
    if (it == tls->end()) continue;
    if (!it->is_number_integer() || it->get<long>() < low || it->get<long>() > 24L * 366) {
      return fail(std::string("tls.") + key, "must be a whole number of hours from 0 to 8784");
    }
    *out = std::chrono::hours(it->get<long>());
  }
  if (auto it = tls->find("verify_depth"); it != tls->end()) {
    if (!it->is_number_integer() || it->get<long>() < 1 || it->get<long>() > 8) {
      return fail("tls.verify_depth",
                  "must be an integer from 1 (client certificates issued directly by a CA of tls.ca_file) to 8");
    }
    c.server.verify_depth = it->get<int>();
  }
  if (auto s = path(*tls, "ca_file", "tls.ca_file", c.server.tls_ca_file, true); !s) return s.error();
  if (auto s = path(*tls, "cert_file", "tls.cert_file", c.server.tls_cert_file, true); !s) return s.error();
  if (auto s = path(*tls, "key_file", "tls.key_file", c.server.tls_key_file, true); !s) return s.error();
  if (auto s = path(*tls, "crl_file", "tls.crl_file", c.server.tls_crl_file, false); !s) return s.error();
  // storage: {"backend": "sqlcipher"} (the default, also when absent) or
  // {"backend": "postgresql", "postgresql": {"conninfo": "...", "node": "..."}}.
  // Errors never quote the connection string: it may hold a password.
  if (auto it = doc.find("storage"); it != doc.end()) {
    if (!it->is_object()) return fail("storage", "must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "backend" && key != "postgresql") return fail("storage." + key, "unknown key");
    }
    const auto backend = it->find("backend");
    if (backend == it->end()) return fail("storage.backend", "missing (\"sqlcipher\" or \"postgresql\")");
    if (!backend->is_string()) return fail("storage.backend", "must be \"sqlcipher\" or \"postgresql\"");
    if (*backend == "postgresql") {
      c.storage.backend = StorageBackend::kPostgresql;
    } else if (*backend != "sqlcipher") {
      return fail("storage.backend", "unknown backend: must be \"sqlcipher\" or \"postgresql\"");
    }
    const auto pg = it->find("postgresql");
    if (c.storage.backend == StorageBackend::kSqlcipher && pg != it->end()) {
      return fail("storage.postgresql", "only with \"backend\": \"postgresql\"");
    }
    if (c.storage.backend == StorageBackend::kPostgresql) {
      if (pg == it->end()) return fail("storage.postgresql", "missing (the backend postgresql needs its conninfo)");
      if (!pg->is_object()) return fail("storage.postgresql", "must be an object");
      for (const auto& [key, value] : pg->items()) {
        if (key != "conninfo" && key != "node") return fail("storage.postgresql." + key, "unknown key");
      }
      auto& settings = c.storage.postgresql;
      const auto conninfo = pg->find("conninfo");
      if (conninfo == pg->end()) return fail("storage.postgresql.conninfo", "missing (a libpq connection string)");
      if (!conninfo->is_string()) return fail("storage.postgresql.conninfo", "must be a string (a libpq connection string)");
      settings.conninfo = conninfo->get<std::string>();
      if (settings.conninfo.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
        return fail("storage.postgresql.conninfo", "must not be empty");
      }
      if (settings.conninfo.size() > 4096) return fail("storage.postgresql.conninfo", "longer than 4096 characters");
      if (settings.conninfo.find('\0') != std::string::npos) {
        return fail("storage.postgresql.conninfo", "must not hold a NUL character");
      }
      if (auto why = read_conninfo(settings.conninfo, settings)) return fail("storage.postgresql.conninfo", *why);
      if (auto node = pg->find("node"); node != pg->end()) {
        if (!node->is_string() || !node_name_ok(node->get<std::string>())) {
          return fail("storage.postgresql.node", "must be 1-64 characters of A-Z a-z 0-9 . _ -");
        }
        settings.node = node->get<std::string>();
      } else {
        std::array<char, 256> host{};
        if (::gethostname(host.data(), host.size() - 1) != 0 || !node_name_ok(host.data())) {
          return fail("storage.postgresql.node", "missing, and the host name cannot name this broker: set it");
        }
        settings.node = host.data();
      }
    }
  }
  const bool on_postgresql = c.storage.backend == StorageBackend::kPostgresql;
  for (auto [key, out] : {std::pair{"master_key_file", &c.storage.master_key_file},
                          std::pair{"signing_key_file", &c.verification.signing_key_file},
                          std::pair{"policies_dir", &c.verification.policies_dir}}) {
    if (auto s = path(doc, key, key, *out, true); !s) return s.error();
  }
  // Likewise the audit log: with the postgresql backend it is the cluster's
  // one log in PostgreSQL, and only its anchor is this broker's file.
  if (on_postgresql && doc.contains("audit_db")) {
    return fail("audit_db",
                "not used with storage.backend \"postgresql\" (the audit log is in PostgreSQL): remove it");
  }
  if (!on_postgresql) {
    if (auto s = path(doc, "audit_db", "audit_db", c.audit.db, true); !s) return s.error();
  }
  // The state database is a file only on the embedded backend; with the
  // postgresql backend a state_db would be a file nobody reads.
  if (on_postgresql && doc.contains("state_db")) {
    return fail("state_db", "not used with storage.backend \"postgresql\" (the state is in PostgreSQL): remove it");
  }
  if (!on_postgresql) {
    if (auto s = path(doc, "state_db", "state_db", c.storage.state_db, true); !s) return s.error();
  }
  if (auto s = path(doc, "divisions_dir", "divisions_dir", c.verification.divisions_dir, false); !s) return s.error();
  if (c.verification.divisions_dir.empty()) c.verification.divisions_dir = shipped_data_dir("divisions");
  if (auto it = doc.find("verification_deadline_ms"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<long>() < 100 || it->get<long>() > 300000) {
      return fail("verification_deadline_ms", "must be an integer from 100 to 300000");
    }
    c.verification.deadline = std::chrono::milliseconds(it->get<long>());
  }
  if (auto it = doc.find("max_body_bytes"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<long>() < 1024 || it->get<long>() > 16L * 1024 * 1024) {
      return fail("max_body_bytes", "must be an integer from 1024 to 16777216");
    }
    c.server.max_body_bytes = it->get<std::size_t>();
  }
  if (auto it = doc.find("max_in_flight"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<long>() < 1 || it->get<long>() > 1000000) {
      return fail("max_in_flight", "must be an integer from 1 to 1000000");
    }
    c.server.max_in_flight = it->get<std::size_t>();
  }
  if (auto it = doc.find("limits"); it != doc.end()) {
    if (!it->is_object()) return fail("limits", "must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "max_connections" && key != "max_connections_per_address" && key != "handshake_timeout_ms") {
        return fail("limits." + key, "unknown key");
      }
    }
    if (auto v = it->find("handshake_timeout_ms"); v != it->end()) {
      if (!v->is_number_integer() || v->get<long>() < 100 || v->get<long>() > 300000) {
        return fail("limits.handshake_timeout_ms", "must be an integer from 100 to 300000");
      }
      c.server.handshake_timeout = std::chrono::milliseconds(v->get<long>());
    }
    for (const auto& [key, out] : {std::pair{"max_connections", &c.server.max_connections},
                                   std::pair{"max_connections_per_address", &c.server.max_connections_per_address}}) {
      auto v = it->find(key);
      if (v == it->end()) continue;
      if (!v->is_number_integer() || v->get<long>() < 1 || v->get<long>() > 1000000) {
        return fail(std::string("limits.") + key, "must be an integer from 1 to 1000000");
      }
      *out = v->get<std::size_t>();
    }
    if (c.server.max_connections_per_address > c.server.max_connections) {
      if (it->contains("max_connections_per_address")) {
        return fail("limits.max_connections_per_address",
                    "must not be above limits.max_connections (" + std::to_string(c.server.max_connections) + ")");
      }
      c.server.max_connections_per_address = c.server.max_connections;  // the default, capped
    }
  }
  if (auto it = doc.find("transfer_threads"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<long>() < 0 || it->get<long>() > 16) {
      return fail("transfer_threads", "must be an integer from 0 (on the I/O thread) to 16");
    }
    c.verification.transfer_threads = it->get<unsigned>();
  }
  if (auto it = doc.find("repeat_window_hours"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<long>() < 0 || it->get<long>() > 24L * 366) {
      return fail("repeat_window_hours", "must be an integer from 0 (off) to 8784");
    }
    c.verification.repeat_window = std::chrono::hours(it->get<long>());
  }
  if (auto it = doc.find("retention"); it != doc.end()) {
    if (!it->is_object()) return fail("retention", "must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "reports_days" && key != "reviews_days") return fail("retention." + key, "unknown key");
      if (!value.is_number_integer() || value.get<long>() < 0 || value.get<long>() > 36500)
        return fail("retention." + key, "must be 0 (keep) or an integer from 1 to 36500");
      (key == "reports_days" ? c.audit.reports_days : c.audit.reviews_days) = value.get<int>();
    }
  }
  if (auto it = doc.find("audit"); it != doc.end()) {
    if (!it->is_object()) return fail("audit", "must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key == "head_url") {
        return fail("audit.head_url",
                    "no longer supported: signed heads go to witnesses that countersign them"
                    " (audit.witnesses, docs/operations.md)");
      }
      if (key != "anchor_file" && key != "origin" && key != "witnesses" && key != "retention_days" &&
          key != "head_interval_ms" && key != "public_key" && key != "create_if_missing") {
        return fail("audit." + key, "unknown key");
      }
    }
    if (auto s = path(*it, "anchor_file", "audit.anchor_file", c.audit.anchor_file, false); !s) return s.error();
    if (auto o = it->find("origin"); o != it->end()) {
      if (!o->is_string() || !audit::valid_origin(o->get<std::string>())) {
        return fail("audit.origin",
                    "must be printable ASCII without spaces or '+', not starting with \"hfv-audit-\""
                    " (e.g. \"hfv.example/harbin/audit\")");
      }
      c.audit.origin = o->get<std::string>();
    }
    if (auto w = it->find("witnesses"); w != it->end()) {
      if (!w->is_array()) return fail("audit.witnesses", "must be an array of {\"name\", \"url\", \"vkey\"}");
      for (std::size_t i = 0; i < w->size(); ++i) {
        const auto& e = (*w)[i];
        const std::string field = "audit.witnesses[" + std::to_string(i) + "]";
        if (!e.is_object() || e.size() != 3 || !e.contains("name") || !e.contains("url") ||
            !e.contains("vkey") || !e["name"].is_string() || !e["url"].is_string() ||
            !e["vkey"].is_string()) {
          return fail(field, "must be {\"name\": ..., \"url\": ..., \"vkey\": ...}, all strings");
        }
        AuditWitness witness;
        witness.name = e["name"].get<std::string>();
        witness.url = e["url"].get<std::string>();
        while (witness.url.ends_with('/')) witness.url.pop_back();
        if (!(witness.url.starts_with("https://") || witness.url.starts_with("http://")) ||
            witness.url.find_first_of(" \t\r\n") != std::string::npos) {
          return fail(field + ".url", "must be an http(s) URL");
        }
        auto key = audit::note::parse_vkey(e["vkey"].get<std::string>());
        if (!key) return fail(field + ".vkey", key.error().message);
        if (key->type != audit::note::KeyType::kCosignatureV1 || key->name != witness.name) {
          return fail(field + ".vkey",
                      "must be the witness's cosignature key under its name (hfv-witness --vkey prints it)");
        }
        for (const auto& other : c.audit.witnesses) {
          if (other.name == witness.name) return fail(field + ".name", "listed twice");
        }
        witness.key = *key;
        c.audit.witnesses.push_back(std::move(witness));
      }
    }
    if (auto k = it->find("public_key"); k != it->end()) {
      const auto bytes = k->is_string() ? crypto::from_hex(k->get<std::string>()) : std::nullopt;
      if (!bytes || bytes->size() != std::tuple_size_v<crypto::Ed25519PublicKey>) {
        return fail("audit.public_key",
                    "must be the audit log's Ed25519 public key as 64 hex characters (brokerctl audit init prints it)");
      }
      crypto::Ed25519PublicKey key{};
      std::copy(bytes->begin(), bytes->end(), key.begin());
      c.audit.public_key = key;
    }
    if (auto k = it->find("create_if_missing"); k != it->end()) {
      if (!k->is_boolean()) return fail("audit.create_if_missing", "must be true or false");
      c.audit.create_if_missing = k->get<bool>();
    }
    if (auto r = it->find("retention_days"); r != it->end()) {
      if (!r->is_number_integer() || (r->get<long>() != 0 && (r->get<long>() < 183 || r->get<long>() > 36500))) {
        return fail("audit.retention_days", "must be 0 (keep) or an integer from 183 (six months) to 36500");
      }
      c.audit.retention_days = r->get<int>();
    }
    if (auto h = it->find("head_interval_ms"); h != it->end()) {
      if (!h->is_number_integer() || h->get<long>() < 50 || h->get<long>() > 1000) {
        return fail("audit.head_interval_ms", "must be an integer from 50 to 1000");
      }
      c.audit.head_interval = std::chrono::milliseconds(h->get<long>());
    }
  }
  if (c.audit.anchor_file.empty() && on_postgresql) {
    return fail("audit.anchor_file",
                "missing: with storage.backend \"postgresql\" each broker keeps its own anchor of the"
                " shared audit log on its own disk");
  }
  if (c.audit.anchor_file.empty()) {
    c.audit.anchor_file = c.audit.db;
    c.audit.anchor_file += ".anchor";
  }
  if (!on_postgresql) c.storage.review_db = c.storage.state_db.parent_path() / "review.db";
  c.review.output_dir =
      (on_postgresql ? c.audit.anchor_file : c.storage.state_db).parent_path() / "batches";
  if (auto it = doc.find("review"); it != doc.end()) {
    if (!it->is_object()) return fail("review", "must be an object");
    for (const auto& [key, value] : it->items()) {
      static const char* kReviewKeys[] = {"db", "output_dir", "batch_capacity_share", "change_share", "max_attempts",
                                          "backoff_initial_ms", "backoff_max_ms", "max_households",
                                          "yield_after_interactive_ms", "claim_lease_ms"};
      if (std::find(std::begin(kReviewKeys), std::end(kReviewKeys), key) == std::end(kReviewKeys)) {
        return fail("review." + key, "unknown key");
      }
    }
    if (on_postgresql && it->contains("db")) {
      return fail("review.db", "not used with storage.backend \"postgresql\" (review records are in PostgreSQL): remove it");
    }
    if (auto s = path(*it, "db", "review.db", c.storage.review_db, false); !s) return s.error();
    if (auto s = path(*it, "output_dir", "review.output_dir", c.review.output_dir, false); !s) return s.error();
    auto share = [&](const char* key, double low, double high, auto& out) -> Status {
      auto v = it->find(key);
      if (v == it->end()) return {};
      if (!v->is_number() || v->get<double>() <= low || v->get<double>() > high) {
        return fail(std::string("review.") + key,
                    "must be a number above " + std::to_string(low) + " and at most " + std::to_string(high));
      }
      out = static_cast<std::remove_reference_t<decltype(out)>>(std::llround(v->get<double>() * 1000));
      return {};
    };
    if (auto s = share("batch_capacity_share", 0.0, 1.0, c.review.capacity_share_permille); !s) return s.error();
    if (auto s = share("change_share", 0.0, 100.0, c.review.change_share_permille); !s) return s.error();
    auto integer = [&](const char* key, long low, long high, long& out) -> Status {
      auto v = it->find(key);
      if (v == it->end()) return {};
      if (!v->is_number_integer() || v->get<long>() < low || v->get<long>() > high) {
        return fail(std::string("review.") + key,
                    "must be an integer from " + std::to_string(low) + " to " + std::to_string(high));
      }
      out = v->get<long>();
      return {};
    };
    long attempts = c.review.max_attempts, initial = c.review.backoff_initial.count(),
         longest = c.review.backoff_max.count(), households = static_cast<long>(c.review.max_households),
         yield = c.review.yield_after_interactive.count(), lease = c.review.claim_lease.count();
    if (auto s = integer("max_attempts", 1, 100, attempts); !s) return s.error();
    if (auto s = integer("backoff_initial_ms", 1, 60000, initial); !s) return s.error();
    if (auto s = integer("backoff_max_ms", 1, 600000, longest); !s) return s.error();
    if (auto s = integer("max_households", 1, 10000000, households); !s) return s.error();
    if (auto s = integer("yield_after_interactive_ms", 0, 60000, yield); !s) return s.error();
    if (auto s = integer("claim_lease_ms", 1000, 600000, lease); !s) return s.error();
    c.review.max_attempts = attempts;
    c.review.backoff_initial = std::chrono::milliseconds(initial);
    c.review.backoff_max = std::chrono::milliseconds(std::max(initial, longest));
    c.review.max_households = static_cast<std::size_t>(households);
    c.review.yield_after_interactive = std::chrono::milliseconds(yield);
    c.review.claim_lease = std::chrono::milliseconds(lease);
  }
  if (auto it = doc.find("anomalies"); it != doc.end()) {
    auto rules = parse_anomaly_rules(*it, base);
    if (!rules) return make_error("bad_config", c.file.string() + ": " + rules.error().message);
    c.anomaly_rules = std::move(*rules);
  }
  auto principals = doc.find("principals");
  if (principals == doc.end() || !principals->is_array()) return fail("principals", "missing");
  for (std::size_t i = 0; i < principals->size(); ++i) {
    const json& p = (*principals)[i];
    const std::string where = "principals[" + std::to_string(i) + "]";
    if (!p.is_object()) return fail(where, "must be an object");
    for (const auto& [key, value] : p.items()) {
      if (key != "name" && key != "certificate_cn" && key != "role" && key != "jurisdictions" &&
          key != "rate_per_second" && key != "burst" && key != "whole_centre" && key != "subject" &&
          key != "issuer" && key != "spki_sha256" && key != "purposes") {
        return fail(std::string(where).append(".").append(key), "unknown key");
      }
    }
    Principal principal;
    for (auto [key, out] : {std::pair{"name", &principal.name},
                            std::pair{"certificate_cn", &principal.certificate_cn}}) {
      if (!p.contains(key) || !p[key].is_string() || p[key].get<std::string>().empty()) {
        return fail(where + "." + key, "missing or empty");
      }
      *out = p[key].get<std::string>();
    }
    // The certificate bindings (docs/configuration.md "Principals").
    for (auto [key, out] : {std::pair{"subject", &principal.subject}, std::pair{"issuer", &principal.issuer}}) {
      auto it = p.find(key);
      if (it == p.end()) continue;
      const std::string dn = it->is_string() ? it->get<std::string>() : std::string();
      if (dn.starts_with("subject=") || dn.starts_with("issuer=")) {
        return fail(where + "." + key, "without the \"subject=\" or \"issuer=\" that openssl x509 prints first");
      }
      const auto attributes = dn.size() <= 1024 ? dn_attributes(dn) : std::nullopt;
      if (!attributes) {
        return fail(where + "." + key,
                    "must be a distinguished name as `openssl x509 -noout -" + std::string(key) +
                        " -nameopt RFC2253,-esc_msb` prints it, e.g. \"CN=harbin-cases,O=Harbin civil affairs\"");
      }
      if (std::string_view(key) == "subject") {
        const auto cns = std::count_if(attributes->begin(), attributes->end(),
                                       [](const auto& a) { return is_cn_type(a.first); });
        const auto cn = std::find_if(attributes->begin(), attributes->end(),
                                     [](const auto& a) { return is_cn_type(a.first); });
        if (cns != 1 || cn->second != principal.certificate_cn) {
          return fail(where + ".subject", "must hold exactly one CN, the principal's certificate_cn");
        }
      }
      *out = dn;
    }
    if (auto it = p.find("spki_sha256"); it != p.end()) {
      if (!it->is_array() || it->empty()) {
        return fail(where + ".spki_sha256", "must list at least one hex SHA-256 of a SubjectPublicKeyInfo");
      }
      for (const auto& pin : *it) {
        const std::string hex = pin.is_string() ? spki_pin(pin.get<std::string>()) : std::string();
        if (hex.empty()) {
          return fail(where + ".spki_sha256", "each must be a SHA-256 in hex (64 digits, colons allowed)");
        }
        principal.spki_sha256.push_back(hex);
      }
    }
    const std::string role = p.value("role", std::string());
    if (role == "case_system") principal.role = Role::kCaseSystem;
    else if (role == "supervisor") principal.role = Role::kSupervisor;
    else if (role == "admin") principal.role = Role::kAdmin;
    else if (role == "peer_broker") principal.role = Role::kPeerBroker;
    else return fail(where + ".role", "must be case_system, supervisor, admin or peer_broker");
    // A peer broker names the programmes it may ask about (docs/cross-region.md).
    if (auto it = p.find("purposes"); it != p.end() || principal.role == Role::kPeerBroker) {
      if (principal.role != Role::kPeerBroker) return fail(where + ".purposes", "only a peer_broker has purposes");
      if (it == p.end() || !it->is_array() || it->empty()) {
        return fail(where + ".purposes", "must list at least one of dibao, marginal, tekun, temporary");
      }
      for (const auto& purpose : *it) {
        const std::string name = purpose.is_string() ? purpose.get<std::string>() : std::string();
        if (name != "dibao" && name != "marginal" && name != "tekun" && name != "temporary") {
          return fail(where + ".purposes", "each must be dibao, marginal, tekun or temporary");
        }
        principal.purposes.push_back(name);
      }
    }
    if (!p.contains("jurisdictions") || !p["jurisdictions"].is_array() || p["jurisdictions"].empty()) {
      return fail(where + ".jurisdictions", "must list at least one GB/T 2260 code prefix");
    }
    for (const auto& j : p["jurisdictions"]) {
      if (!j.is_string() || j.get<std::string>().empty() || j.get<std::string>().size() > 6 ||
          !all_digits(j.get<std::string>()) || j.get<std::string>().size() % 2 != 0) {
        return fail(where + ".jurisdictions", "each must be a 2-, 4- or 6-digit code prefix");
      }
      principal.jurisdictions.push_back(j.get<std::string>());
    }
    for (auto [key, out] : {std::pair{"rate_per_second", &principal.rate_per_second},
                            std::pair{"burst", &principal.burst}}) {
      if (auto it = p.find(key); it != p.end()) {
        if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 1e6) {
          return fail(where + "." + key, "must be a number above 0");
        }
        *out = it->get<double>();
      }
    }
    if (auto it = p.find("whole_centre"); it != p.end()) {
      if (!it->is_boolean()) return fail(where + ".whole_centre", "must be true or false");
      if (it->get<bool>() && principal.role != Role::kSupervisor && principal.role != Role::kAdmin) {
        return fail(where + ".whole_centre", "only a supervisor or admin may see the whole centre");
      }
      principal.whole_centre = it->get<bool>();
    }
    if (c.principal_for_cn(principal.certificate_cn) != nullptr) {
      return fail(where + ".certificate_cn", "used by two principals");
    }
    c.principals.push_back(std::move(principal));
  }
  if (auto it = doc.find("agencies"); it != doc.end()) {
    // "allow_plaintext" is the broker's own key: an agency reached over
    // http:// sees members' ID numbers in clear, so only an agency that
    // says so may have one (docs/configuration.md).
    json agencies_json = *it;
    if (agencies_json.is_object()) {
      for (auto& [name, settings] : agencies_json.items()) {
        if (!settings.is_object()) continue;
        bool plaintext = false;
        if (auto a = settings.find("allow_plaintext"); a != settings.end()) {
          if (!a->is_boolean()) return fail("agencies." + name + ".allow_plaintext", "must be true or false");
          plaintext = a->get<bool>();
          settings.erase("allow_plaintext");
        }
        const auto url = settings.find("base_url");
        if (!plaintext && url != settings.end() && url->is_string() && url->get<std::string>().starts_with("http://")) {
          return fail("agencies." + name + ".base_url",
                      "http:// sends ID numbers in clear: use https://, or set \"allow_plaintext\": true on this "
                      "agency (tests and demos only)");
        }
      }
    }
    // "divisions" is the broker's own key too: what the agency answers for
    // (docs/cross-region.md "Who asks whom").
    if (agencies_json.is_object()) {
      for (auto& [name, settings] : agencies_json.items()) {
        if (!settings.is_object()) continue;
        auto d = settings.find("divisions");
        if (d == settings.end()) continue;
        auto prefixes = division_prefixes(*d);
        if (!prefixes) return fail("agencies." + name + ".divisions", prefixes.error().message);
        c.agency_divisions[name] = std::move(*prefixes);
        settings.erase("divisions");
      }
    }
    auto agencies = adapters::parse_agencies(agencies_json, base.string());
    if (!agencies) return make_error("bad_config", c.file.string() + ": " + agencies.error().message);
    c.agencies = std::move(*agencies);
  }
  if (auto it = doc.find("centre"); it != doc.end()) {
    if (!it->is_string() || !is_peer_name(it->get<std::string>())) {
      return fail("centre", "must be 1-32 characters of a-z 0-9 _ -");
    }
    c.centre = it->get<std::string>();
  }
  if (auto it = doc.find("peers"); it != doc.end()) {
    if (!it->is_array()) return fail("peers", "must be an array of peer brokers");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto peer = parse_peer((*it)[i], "peers[" + std::to_string(i) + "]", base);
      if (!peer) return make_error("bad_config", c.file.string() + ": " + peer.error().message);
      for (const auto& other : c.peers) {
        if (other.name == peer->name) return fail("peers[" + std::to_string(i) + "].name", "used twice");
      }
      c.peers.push_back(std::move(*peer));
    }
  }
  const bool peer_principals = std::any_of(c.principals.begin(), c.principals.end(),
                                           [](const Principal& p) { return p.role == Role::kPeerBroker; });
  if (c.centre.empty() && (peer_principals || !c.peers.empty())) {
    return fail("centre", "missing: peers and peer_broker principals need this centre's name");
  }
  return c;
}

audit::LogLocation audit_location(const Config& config) {
  if (config.storage.backend == StorageBackend::kPostgresql)
    return audit::LogLocation::shared(config.storage.postgresql.conninfo);
  return audit::LogLocation::sqlcipher(config.audit.db);
}

}  // namespace hfv::broker
