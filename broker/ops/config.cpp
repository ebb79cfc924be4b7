#include "broker/ops/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

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

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kCaseSystem: return "case_system";
    case Role::kSupervisor: return "supervisor";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

bool Principal::covers(const std::string& code) const {
  return std::any_of(jurisdictions.begin(), jurisdictions.end(),
                     [&](const std::string& prefix) { return code.starts_with(prefix); });
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

const Principal* Config::principal_for_name(const std::string& name) const {
  for (const auto& p : principals) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

bool all_digits(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
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
  const json doc = json::parse(buf.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail("(file)", "not a JSON object");

  static const char* kKnown[] = {"listen", "port_file", "tls", "master_key_file", "signing_key_file",
                                 "audit_db", "state_db", "policies_dir", "divisions_dir", "verification_deadline_ms",
                                 "max_body_bytes", "max_in_flight", "repeat_window_hours", "principals", "agencies",
                                 "audit", "anomalies", "log_level", "pid_file", "review"};
  for (const auto& [key, value] : doc.items()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return fail(key, "unknown key");
    }
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
    if (key != "ca_file" && key != "cert_file" && key != "key_file" && key != "crl_file") {
      return fail("tls." + key, "unknown key");
    }
  }
  if (auto s = path(*tls, "ca_file", "tls.ca_file", c.server.tls_ca_file, true); !s) return s.error();
  if (auto s = path(*tls, "cert_file", "tls.cert_file", c.server.tls_cert_file, true); !s) return s.error();
  if (auto s = path(*tls, "key_file", "tls.key_file", c.server.tls_key_file, true); !s) return s.error();
  if (auto s = path(*tls, "crl_file", "tls.crl_file", c.server.tls_crl_file, false); !s) return s.error();
  for (auto [key, out] : {std::pair{"master_key_file", &c.storage.master_key_file},
                          std::pair{"signing_key_file", &c.verification.signing_key_file},
                          std::pair{"audit_db", &c.audit.db}, std::pair{"state_db", &c.storage.state_db},
                          std::pair{"policies_dir", &c.verification.policies_dir}}) {
    if (auto s = path(doc, key, key, *out, true); !s) return s.error();
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
  if (auto it = doc.find("repeat_window_hours"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<long>() < 0 || it->get<long>() > 24L * 366) {
      return fail("repeat_window_hours", "must be an integer from 0 (off) to 8784");
    }
    c.verification.repeat_window = std::chrono::hours(it->get<long>());
  }
  if (auto it = doc.find("audit"); it != doc.end()) {
    if (!it->is_object()) return fail("audit", "must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "anchor_file" && key != "head_url" && key != "retention_days" && key != "head_interval_ms") {
        return fail("audit." + key, "unknown key");
      }
    }
    if (auto s = path(*it, "anchor_file", "audit.anchor_file", c.audit.anchor_file, false); !s) return s.error();
    if (auto h = it->find("head_url"); h != it->end()) {
      if (!h->is_string() || !(h->get<std::string>().starts_with("https://") ||
                               h->get<std::string>().starts_with("http://"))) {
        return fail("audit.head_url", "must be an http(s) URL");
      }
      c.audit.head_url = h->get<std::string>();
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
  if (c.audit.anchor_file.empty()) {
    c.audit.anchor_file = c.audit.db;
    c.audit.anchor_file += ".anchor";
  }
  c.storage.review_db = c.storage.state_db.parent_path() / "review.db";
  c.review.output_dir = c.storage.state_db.parent_path() / "batches";
  if (auto it = doc.find("review"); it != doc.end()) {
    if (!it->is_object()) return fail("review", "must be an object");
    for (const auto& [key, value] : it->items()) {
      static const char* kReviewKeys[] = {"db", "output_dir", "batch_capacity_share", "change_share", "max_attempts",
                                          "backoff_initial_ms", "backoff_max_ms", "max_households",
                                          "yield_after_interactive_ms"};
      if (std::find(std::begin(kReviewKeys), std::end(kReviewKeys), key) == std::end(kReviewKeys)) {
        return fail("review." + key, "unknown key");
      }
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
         yield = c.review.yield_after_interactive.count();
    if (auto s = integer("max_attempts", 1, 100, attempts); !s) return s.error();
    if (auto s = integer("backoff_initial_ms", 1, 60000, initial); !s) return s.error();
    if (auto s = integer("backoff_max_ms", 1, 600000, longest); !s) return s.error();
    if (auto s = integer("max_households", 1, 10000000, households); !s) return s.error();
    if (auto s = integer("yield_after_interactive_ms", 0, 60000, yield); !s) return s.error();
    c.review.max_attempts = attempts;
    c.review.backoff_initial = std::chrono::milliseconds(initial);
    c.review.backoff_max = std::chrono::milliseconds(std::max(initial, longest));
    c.review.max_households = static_cast<std::size_t>(households);
    c.review.yield_after_interactive = std::chrono::milliseconds(yield);
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
          key != "rate_per_second" && key != "burst") {
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
    const std::string role = p.value("role", std::string());
    if (role == "case_system") principal.role = Role::kCaseSystem;
    else if (role == "supervisor") principal.role = Role::kSupervisor;
    else if (role == "admin") principal.role = Role::kAdmin;
    else return fail(where + ".role", "must be case_system, supervisor or admin");
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
    if (c.principal_for_cn(principal.certificate_cn) != nullptr) {
      return fail(where + ".certificate_cn", "used by two principals");
    }
    c.principals.push_back(std::move(principal));
  }
  if (auto it = doc.find("agencies"); it != doc.end()) {
    auto agencies = adapters::parse_agencies(*it, base.string());
    if (!agencies) return make_error("bad_config", c.file.string() + ": " + agencies.error().message);
    c.agencies = std::move(*agencies);
  }
  return c;
}

}  // namespace hfv::broker
