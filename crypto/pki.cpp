#include "crypto/pki.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <memory>
#include <set>
#include <stdexcept>
#include <system_error>

#include "common/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/internal.hpp"
#include "crypto/openssl_ptr.hpp"

namespace hfv::crypto {

namespace {

using internal::bio_contents;
using internal::BioPtr;
using internal::BnPtr;
using internal::ExtPtr;
using internal::GeneralNamesPtr;
using internal::no_passphrase;
using internal::PkeyPtr;
using internal::read_only_bio;
using internal::X509Ptr;

constexpr const char* kOrganization = "HFV development";
constexpr int kMaxValidityDays = 36500;

Error internal_error(const std::string& what) {
  ERR_clear_error();
  return make_error("crypto_error", what);
}

constexpr const char* kIntermediateName = "intermediate-ca";

enum class Kind { kCa, kIntermediate, kServer, kClient };

struct Item {
  Item(Kind k, std::string name, std::filesystem::path cert, std::filesystem::path key)
      : kind(k), cn(std::move(name)), cert_path(std::move(cert)), key_path(std::move(key)) {}
  Kind kind;
  std::string cn;
  std::filesystem::path cert_path;
  std::filesystem::path key_path;
  bool cert_exists = false;
  bool key_exists = false;
  // Clients (DevClient): the subject's CNs (empty: {cn}) and O, the
  // extended key usage, and whether the intermediate issues it.
  std::vector<std::string> common_names;
  std::string organization = kOrganization;
  std::string extended_key_usage = "clientAuth";
  bool from_intermediate = false;
};

Result<bool> file_exists(const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return make_error("io_error", "cannot stat " + path.string() + ": " + ec.message());
  }
  return std::filesystem::exists(st);
}

// Client names become file names and subject CNs.
bool valid_client_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name == "ca" || name == "server" ||
      name == kIntermediateName) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status validate(const DevPkiOptions& options) {
  if (options.dir.empty()) return make_error("bad_options", "PKI directory is empty");
  if (options.validity_days < 1 || options.validity_days > kMaxValidityDays) {
    return make_error("bad_options", "validity_days must be between 1 and 36500");
  }
  std::set<std::string> seen;
  std::vector<std::string> names = options.client_names;
  for (const auto& client : options.clients) names.push_back(client.name);
  for (const auto& name : names) {
    if (!valid_client_name(name)) {
      return make_error("bad_options", "client name '" + name +
                                           "' must be 1-64 characters of A-Z a-z 0-9 . _ -, not"
                                           " start with '.', and not be 'ca', 'server' or 'intermediate-ca'");
    }
    if (!seen.insert(name).second) {
      return make_error("bad_options", "client name '" + name + "' is listed twice");
    }
  }
  for (const auto& client : options.clients) {
    for (const auto& cn : client.common_names) {
      if (cn.empty() || cn.size() > 64) {
        return make_error("bad_options", "client '" + client.name + "': each common name must be 1-64 bytes");
      }
    }
    if (client.organization.size() > 64) {
      return make_error("bad_options", "client '" + client.name + "': the organization must be at most 64 bytes");
    }
  }
  for (const auto& dns : options.server_dns) {
    if (dns.empty() || dns.size() > 253 || dns.find_first_of(", \t\r\n") != std::string::npos) {
      return make_error("bad_options", "server DNS name '" + dns + "' is not valid");
    }
  }
  for (const auto& ip : options.server_ips) {
    ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(ip.c_str());
    if (parsed == nullptr) {
      ERR_clear_error();
      return make_error("bad_options", "server IP address '" + ip + "' is not valid");
    }
    ASN1_OCTET_STRING_free(parsed);
  }
  return Status::success();
}

Status ensure_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto st = std::filesystem::status(dir, ec);
  if (std::filesystem::exists(st)) {
    if (!std::filesystem::is_directory(st)) {
      return make_error("io_error", dir.string() + " exists and is not a directory");
    }
    return Status::success();
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) {
      return make_error("io_error",
                        "cannot create " + dir.parent_path().string() + ": " + ec.message());
    }
  }
  const auto os_error = [&](const char* what) {
    const int err = errno;  // before anything else can change it
    return make_error("io_error", std::string(what) + " " + dir.string() + ": " +
                                      std::generic_category().message(err));
  };
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return os_error("cannot create");
  // mkdir honours the umask, which can only remove bits; make it exactly 0700.
  if (::chmod(dir.c_str(), 0700) != 0) return os_error("cannot chmod");
  return Status::success();
}

Result<PkeyPtr> generate_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return internal_error("ECDSA P-256 key generation failed");
  return key;
}

Status write_key(const std::filesystem::path& path, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));  // wiped when freed
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY").
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return internal_error("cannot encode private key for " + path.string());
  }
  internal::WipedString pem(bio_contents(bio.get()));
  return write_new_file(path, pem.str(), 0600);
}

Result<PkeyPtr> load_key(const std::filesystem::path& path) {
  auto key = internal::read_private_key_pem(path);
  if (key.ok() && !*key) {
    return make_error("bad_key_file",
                      "key file " + path.string() + " does not hold an unencrypted private key");
  }
  return key;
}

Result<X509Ptr> load_cert(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error("io_error", "cannot read " + path.string() + ": " + ec.message());
  if (size > (1U << 20)) return make_error("bad_cert_file", path.string() + " is too large");
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  X509Ptr cert;
  if (bio) cert.reset(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();
  if (!cert) {
    return make_error("bad_cert_file", path.string() + " does not hold a PEM certificate");
  }
  return cert;
}

Status add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return internal_error(std::string("cannot add certificate extension ") + OBJ_nid2sn(nid));
  }
  return Status::success();
}

Status add_san(X509* cert, const DevPkiOptions& options) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return internal_error("out of memory");
  for (const auto& dns : options.server_dns) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (gn == nullptr || ia5 == nullptr ||
        ASN1_STRING_set(ia5, dns.data(), static_cast<int>(dns.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(ia5);
      return internal_error("cannot build subjectAltName");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    if (sk_GENERAL_NAME_push(names.get(), gn) <= 0) {
      GENERAL_NAME_free(gn);
      return internal_error("cannot build subjectAltName");
    }
  }
  for (const auto& ip : options.server_ips) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (gn == nullptr || octets == nullptr) {
      GENERAL_NAME_free(gn);
      ASN1_OCTET_STRING_free(octets);
      return internal_error("cannot build subjectAltName");
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, octets);
    if (sk_GENERAL_NAME_push(names.get(), gn) <= 0) {
      GENERAL_NAME_free(gn);
      return internal_error("cannot build subjectAltName");
    }
  }
  if (sk_GENERAL_NAME_num(names.get()) == 0) return Status::success();
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return internal_error("cannot add subjectAltName");
  }
  return Status::success();
}

Status set_serial(X509* cert) {
  Bytes serial = random_bytes(16);
  serial[0] &= 0x7f;  // positive
  serial[0] |= 0x40;  // and never zero; keeps the DER encoding at 16 bytes
  BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return internal_error("cannot set certificate serial number");
  }
  return Status::success();
}

// O first, then the CNs in order (RFC 4514 text lists them backwards:
// "CN=centre-a,O=HFV development").
Status set_subject(X509* cert, const Item& item) {
  X509_NAME* name = X509_get_subject_name(cert);
  auto add = [&](int nid, const std::string& value) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(value.c_str());
    return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, bytes, -1, -1, 0) == 1;
  };
  bool ok = item.organization.empty() || add(NID_organizationName, item.organization);
  if (item.common_names.empty()) {
    ok = ok && add(NID_commonName, item.cn);
  } else {
    for (const auto& cn : item.common_names) ok = ok && add(NID_commonName, cn);
  }
  if (!ok) return internal_error("cannot set certificate subject '" + item.cn + "'");
  return Status::success();
}

// Issues a certificate for `key`. For the CA, `issuer` and `issuer_key` are
// null and the certificate is self-signed.
Result<X509Ptr> issue(const Item& item, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                      const DevPkiOptions& options) {
  X509Ptr cert(X509_new());
  if (!cert) return internal_error("out of memory");
  X509* x = cert.get();
  if (X509_set_version(x, X509_VERSION_3) != 1) return internal_error("cannot set version");
  if (Status s = set_serial(x); !s.ok()) return s.error();
  if (Status s = set_subject(x, item); !s.ok()) return s.error();
  const bool self_signed = issuer == nullptr;
  if (X509_set_issuer_name(
          x, self_signed ? X509_get_subject_name(x) : X509_get_subject_name(issuer)) != 1) {
    return internal_error("cannot set issuer");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(x), options.validity_days, 0, nullptr) == nullptr) {
    return internal_error("cannot set validity");
  }
  if (X509_set_pubkey(x, key) != 1) return internal_error("cannot set public key");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, self_signed ? x : issuer, x, nullptr, nullptr, 0);
  Status s;
  switch (item.kind) {
    case Kind::kCa:
      if (s = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE"); !s.ok()) break;
      if (s = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"); !s.ok()) break;
      s = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
      break;
    case Kind::kIntermediate:
      if (s = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"); !s.ok()) break;
      if (s = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"); !s.ok()) break;
      if (s = add_ext(x, &ctx, NID_subject_key_identifier, "hash"); !s.ok()) break;
      s = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
      break;
    case Kind::kServer:
    case Kind::kClient: {
      if (s = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE"); !s.ok()) break;
      if (s = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature"); !s.ok()) break;
      const std::string eku = item.kind == Kind::kServer ? "serverAuth" : item.extended_key_usage;
      if (!eku.empty()) {
        if (s = add_ext(x, &ctx, NID_ext_key_usage, eku.c_str()); !s.ok()) break;
      }
      if (s = add_ext(x, &ctx, NID_subject_key_identifier, "hash"); !s.ok()) break;
      if (s = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"); !s.ok()) break;
      if (item.kind == Kind::kServer) s = add_san(x, options);
      break;
    }
  }
  if (!s.ok()) return s.error();

  if (X509_sign(x, self_signed ? key : issuer_key, EVP_sha256()) <= 0) {
    return internal_error("cannot sign certificate for '" + item.cn + "'");
  }
  return cert;
}

// The certificate, followed by `chain` (its issuer) when given.
Status write_cert(const std::filesystem::path& path, X509* cert, X509* chain = nullptr) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1 ||
      (chain != nullptr && PEM_write_bio_X509(bio.get(), chain) != 1)) {
    return internal_error("cannot encode certificate " + path.string());
  }
  return write_new_file(path, bio_contents(bio.get()), 0644);
}

}  // namespace

Result<DevPkiReport> create_dev_pki(const DevPkiOptions& options) {
  if (Status s = validate(options); !s.ok()) return s.error();
  if (Status s = ensure_dir(options.dir); !s.ok()) return s.error();

  // Issuers first: the CA, then the intermediate when a client needs it.
  std::vector<Item> items;
  items.push_back(
      {Kind::kCa, "HFV development CA", options.dir / "ca.pem", options.dir / "ca.key"});
  const bool intermediate = std::any_of(options.clients.begin(), options.clients.end(),
                                        [](const DevClient& c) { return c.from_intermediate; });
  if (intermediate) {
    items.push_back({Kind::kIntermediate, "HFV development intermediate CA",
                     options.dir / (std::string(kIntermediateName) + ".pem"),
                     options.dir / (std::string(kIntermediateName) + ".key")});
  }
  items.push_back(
      {Kind::kServer, "hfv-broker", options.dir / "server.pem", options.dir / "server.key"});
  if (!options.server_dns.empty()) items.back().cn = options.server_dns.front();
  for (const auto& name : options.client_names) {
    items.push_back(
        {Kind::kClient, name, options.dir / (name + ".pem"), options.dir / (name + ".key")});
  }
  for (const auto& client : options.clients) {
    Item item{Kind::kClient, client.name, options.dir / (client.name + ".pem"),
              options.dir / (client.name + ".key")};
    item.common_names = client.common_names;
    item.organization = client.organization;
    item.extended_key_usage = client.extended_key_usage;
    item.from_intermediate = client.from_intermediate;
    items.push_back(std::move(item));
  }

  // Check everything before writing anything.
  for (auto& item : items) {
    auto cert_exists = file_exists(item.cert_path);
    if (!cert_exists.ok()) return cert_exists.error();
    auto key_exists = file_exists(item.key_path);
    if (!key_exists.ok()) return key_exists.error();
    item.cert_exists = *cert_exists;
    item.key_exists = *key_exists;
    if (item.cert_exists && !item.key_exists) {
      return make_error("pki_inconsistent",
                        item.cert_path.string() + " exists but its key " + item.key_path.string() +
                            " does not; remove the certificate to have both issued again");
    }
  }

  DevPkiReport report;
  PkeyPtr ca_key, intermediate_key;
  X509Ptr ca_cert, intermediate_cert;
  for (const auto& item : items) {
    const bool is_ca = item.kind == Kind::kCa;
    const bool is_intermediate = item.kind == Kind::kIntermediate;
    const bool need_cert = !item.cert_exists;
    // An issuer's key and certificate are needed whenever a certificate it
    // issues is (the CA: any certificate at all); other keys only when
    // their own certificate is.
    bool need_key = need_cert;
    for (const auto& other : items) {
      if (is_ca) need_key = need_key || !other.cert_exists;
      if (is_intermediate) need_key = need_key || (other.from_intermediate && !other.cert_exists);
    }

    PkeyPtr key;
    if (item.key_exists) {
      if (need_key) {
        auto loaded = load_key(item.key_path);
        if (!loaded.ok()) return loaded.error();
        key = std::move(loaded).value();
      }
      report.kept.push_back(item.key_path);
    } else {
      auto generated = generate_key();
      if (!generated.ok()) return generated.error();
      key = std::move(generated).value();
      if (Status s = write_key(item.key_path, key.get()); !s.ok()) return s.error();
      report.created.push_back(item.key_path);
    }

    X509Ptr cert;
    if (item.cert_exists) {
      if ((is_ca || is_intermediate) && need_key) {
        auto loaded = load_cert(item.cert_path);
        if (!loaded.ok()) return loaded.error();
        cert = std::move(loaded).value();
        if (X509_check_private_key(cert.get(), key.get()) != 1) {
          ERR_clear_error();
          return make_error(
              "pki_inconsistent",
              item.cert_path.string() + " does not belong to the key " + item.key_path.string());
        }
      }
      report.kept.push_back(item.cert_path);
    } else {
      X509* issuer = is_ca ? nullptr : item.from_intermediate ? intermediate_cert.get() : ca_cert.get();
      EVP_PKEY* issuer_key = is_ca ? nullptr : item.from_intermediate ? intermediate_key.get() : ca_key.get();
      auto issued = issue(item, key.get(), issuer, issuer_key, options);
      if (!issued.ok()) return issued.error();
      cert = std::move(issued).value();
      // A client of the intermediate presents the intermediate too.
      X509* chain = item.from_intermediate ? intermediate_cert.get() : nullptr;
      if (Status s = write_cert(item.cert_path, cert.get(), chain); !s.ok()) return s.error();
      report.created.push_back(item.cert_path);
    }

    if (is_ca) {
      ca_key = std::move(key);
      ca_cert = std::move(cert);
    } else if (is_intermediate) {
      intermediate_key = std::move(key);
      intermediate_cert = std::move(cert);
    }
  }
  return report;
}

}  // namespace hfv::crypto
