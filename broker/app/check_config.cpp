#include <utility>  // Boost 1.74's asio headers need it first with GCC 12

#include "broker/app/check_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "broker/ops/config.hpp"
#include "broker/ops/divisions.hpp"
#include "broker/verification/report_key_history.hpp"
#include "broker/verification/routing.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"
#include "crypto/tls.hpp"
#include "policies/policy.hpp"

namespace hfv::broker {

namespace {

namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;
using nlohmann::json;

class Checker {
 public:
  explicit Checker(const fs::path& file) : file_(fs::absolute(file)), base_(file_.parent_path()) {}

  std::vector<std::string> run() {
    std::ifstream in(file_);
    if (!in) {
      add("(file)", "cannot be read");
      return problems_;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    try {
      doc_ = json::parse(text);
    } catch (const json::parse_error& e) {
      problems_.push_back(file_.string() + ":" + json_error_position(text, e.byte) +
                          ": not valid JSON: " + json_error_reason(e.what()));
      return problems_;
    }
    if (!doc_.is_object()) {
      add("(file)", "not a JSON object");
      return problems_;
    }
    // The loader stops at its first problem; the checks below each look at
    // their own keys, so one run reports them all.
    if (auto loaded = load_config(file_); !loaded) {
      problems_.push_back(loaded.error().message);
    } else if (auto problem = route_table_problem(route_table_of(*loaded))) {
      add("peers", *problem);  // who answers what is ambiguous (docs/cross-region.md)
    }
    unknown_keys();
    server_tls();
    keys();
    data_dirs();
    agencies();
    storage_locations();
    // One problem found by the loader and again by a check is said once.
    std::vector<std::string> unique;
    for (auto& p : problems_) {
      if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(std::move(p));
    }
    return unique;
  }

 private:
  void add(const std::string& key, const std::string& why) {
    problems_.push_back(file_.string() + ": " + key + ": " + why);
  }

  // The path under `key` of `obj`, resolved as the loader resolves it; empty
  // when absent or not a string (the loader reports that).
  fs::path path_of(const json& obj, const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string() || it->get<std::string>().empty()) return {};
    fs::path p(it->get<std::string>());
    return p.is_absolute() ? p : base_ / p;
  }

  // False (and a problem) when `p` is not a readable regular file.
  bool readable_file(const std::string& key, const fs::path& p) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      add(key, p.string() + ": does not exist");
      return false;
    }
    if (!fs::is_regular_file(p, ec)) {
      add(key, p.string() + ": not a regular file");
      return false;
    }
    if (::access(p.c_str(), R_OK) != 0) {
      add(key, p.string() + ": cannot be read by this user");
      return false;
    }
    return true;
  }

  // Every unknown top-level key (the loader names only the first), by the
  // loader's own list (is_config_key, broker/ops/config.hpp).
  void unknown_keys() {
    for (const auto& [key, value] : doc_.items()) {
      if (!is_config_key(key)) add(key, "unknown key");
    }
  }

  // The server's CA bundle, certificate chain, key (and that it is the
  // certificate's) and CRL, loaded as Server::start() loads them.
  void server_tls() {
    auto tls = doc_.find("tls");
    if (tls == doc_.end() || !tls->is_object()) return;
    ssl::context context(ssl::context::tls_server);
    boost::system::error_code ec;
    if (auto ca = path_of(*tls, "ca_file"); !ca.empty() && readable_file("tls.ca_file", ca)) {
      context.load_verify_file(ca.string(), ec);
      if (ec) add("tls.ca_file", ca.string() + ": not a PEM CA bundle (" + ec.message() + ")");
    }
    bool have_cert = false;
    if (auto cert = path_of(*tls, "cert_file"); !cert.empty() && readable_file("tls.cert_file", cert)) {
      context.use_certificate_chain_file(cert.string(), ec);
      if (ec) add("tls.cert_file", cert.string() + ": not a PEM certificate chain (" + ec.message() + ")");
      have_cert = !ec;
    }
    if (auto key = path_of(*tls, "key_file"); !key.empty() && readable_file("tls.key_file", key)) {
      load_key(context, "tls.key_file", "tls.cert_file", key, have_cert);
    }
    if (auto crl = path_of(*tls, "crl_file"); !crl.empty() && readable_file("tls.crl_file", crl)) {
      if (auto s = crypto::load_crl(context.native_handle(), crl); !s) {
        add("tls.crl_file", crl.string() + ": " + s.error().message);
      }
    }
  }

  // A private key, and that it belongs to the certificate loaded before it.
  void load_key(ssl::context& context, const std::string& key_name, const std::string& cert_name,
                const fs::path& key, bool have_cert) {
    boost::system::error_code ec;
    context.use_private_key_file(key.string(), ssl::context::pem, ec);
    if (ec && have_cert) {
      // OpenSSL refuses a key that does not match the certificate at load;
      // tell that apart from a file that holds no key at all.
      ssl::context alone(ssl::context::tls_client);
      boost::system::error_code alone_ec;
      alone.use_private_key_file(key.string(), ssl::context::pem, alone_ec);
      if (!alone_ec) {
        add(key_name, key.string() + ": does not belong to the certificate in " + cert_name);
        return;
      }
    }
    if (ec) add(key_name, key.string() + ": not a PEM private key (" + ec.message() + ")");
  }

  void keys() {
    if (auto master = path_of(doc_, "master_key_file"); !master.empty()) {
      // As the daemon: HFV_MASTER_KEY or a systemd credential come first.
      if (auto k = crypto::load_master_key(master); !k) add("master_key_file", master.string() + ": " + k.error().message);
    }
    if (auto signing = path_of(doc_, "signing_key_file"); !signing.empty()) {
      if (auto s = crypto::Ed25519Signer::load(signing); !s) {
        add("signing_key_file", signing.string() + ": " + s.error().message);
      } else if (auto h = load_report_key_history(signing, s->public_key()); !h) {
        // As the daemon at start: the history beside the key, link by link.
        add("signing_key_file", h.error().message);
      }
    }
  }

  // Every policy file on its own (so each bad one is named), then the set.
  void data_dirs() {
    if (auto dir = path_of(doc_, "policies_dir"); !dir.empty()) {
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) {
        add("policies_dir", dir.string() + ": not a directory");
      } else {
        bool each_ok = true;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
          if (entry.path().extension() != ".json") continue;
          if (auto p = policies::load_policy_file(entry.path()); !p) {
            add("policies_dir", p.error().message);
            each_ok = false;
          }
        }
        if (each_ok) {
          if (auto set = policies::PolicySet::load_dir(dir); !set) add("policies_dir", set.error().message);
        }
      }
    }
    fs::path divisions = path_of(doc_, "divisions_dir");
    if (divisions.empty()) divisions = shipped_data_dir("divisions");
    if (auto d = DivisionCodes::load(divisions); !d) add("divisions_dir", divisions.string() + ": " + d.error().message);
  }

  void agencies() {
    auto all = doc_.find("agencies");
    if (all == doc_.end() || !all->is_object()) return;
    for (const auto& [name, settings] : all->items()) {
      if (!settings.is_object()) continue;
      const std::string where = "agencies." + name;
      const auto url = settings.find("base_url");
      if (url != settings.end() && url->is_string()) {
        const std::string text = url->get<std::string>();
        const bool plaintext = text.starts_with("http://");
        const auto host_at = text.find("://");
        if (!(plaintext || text.starts_with("https://")) || host_at + 3 >= text.size() ||
            text[host_at + 3] == '/' || text[host_at + 3] == ':' ||
            text.find_first_of(" \t\r\n") != std::string::npos) {
          add(where + ".base_url", "not a valid http:// or https:// URL with a host");
        } else if (plaintext && !settings.value("allow_plaintext", false)) {
          add(where + ".base_url",
              "http:// sends ID numbers in clear: use https://, or set \"allow_plaintext\": true on this agency "
              "(tests and demos only)");
        }
      }
      ssl::context context(ssl::context::tls_client);
      boost::system::error_code ec;
      if (auto ca = path_of(settings, "ca_file"); !ca.empty() && readable_file(where + ".ca_file", ca)) {
        context.load_verify_file(ca.string(), ec);
        if (ec) add(where + ".ca_file", ca.string() + ": not a PEM CA bundle (" + ec.message() + ")");
      }
      bool have_cert = false;
      if (auto cert = path_of(settings, "client_cert_file");
          !cert.empty() && readable_file(where + ".client_cert_file", cert)) {
        context.use_certificate_chain_file(cert.string(), ec);
        if (ec) add(where + ".client_cert_file", cert.string() + ": not a PEM certificate chain (" + ec.message() + ")");
        have_cert = !ec;
      }
      if (auto key = path_of(settings, "client_key_file");
          !key.empty() && readable_file(where + ".client_key_file", key)) {
        load_key(context, where + ".client_key_file", where + ".client_cert_file", key, have_cert);
      }
    }
  }

  // Where the daemon will create or write files: the folder must exist.
  void storage_locations() {
    auto folder_of = [&](const std::string& key, const fs::path& p) {
      if (p.empty()) return;
      std::error_code ec;
      const auto dir = p.parent_path();
      if (!fs::is_directory(dir, ec)) {
        add(key, p.string() + ": its folder " + dir.string() + " does not exist");
      } else if (::access(dir.c_str(), W_OK | X_OK) != 0 && !fs::exists(p, ec)) {
        add(key, p.string() + ": its folder " + dir.string() + " is not writable by this user");
      }
    };
    folder_of("audit_db", path_of(doc_, "audit_db"));
    folder_of("state_db", path_of(doc_, "state_db"));
    folder_of("port_file", path_of(doc_, "port_file"));
    folder_of("pid_file", path_of(doc_, "pid_file"));
    if (auto audit = doc_.find("audit"); audit != doc_.end() && audit->is_object()) {
      folder_of("audit.anchor_file", path_of(*audit, "anchor_file"));
    }
    if (auto review = doc_.find("review"); review != doc_.end() && review->is_object()) {
      folder_of("review.db", path_of(*review, "db"));
    }
  }

  fs::path file_, base_;
  json doc_;
  std::vector<std::string> problems_;
};

}  // namespace

std::vector<std::string> check_config(const std::filesystem::path& config_file) {
  return Checker(config_file).run();
}

int run_check_config(const std::filesystem::path& config_file) {
  const auto problems = check_config(config_file);
  for (const auto& p : problems) (void)std::fprintf(stderr, "%s\n", p.c_str());
  if (!problems.empty()) {
    (void)std::fprintf(stderr, "brokerd check-config: %zu problem(s)\n", problems.size());
    return kExitConfig;
  }
  std::printf("%s: ok\n", std::filesystem::absolute(config_file).string().c_str());
  return 0;
}

}  // namespace hfv::broker
