// The broker's record personality (audit_log.hpp): AuditRecord to leaf
// (envelope, personal part, index columns), its check during verification,
// AuditQuery to column conditions; everything else is the generic log's.
#include "audit/audit_log.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "common/time.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A JSON string as nlohmann's dump(-1, ' ', false, replace) writes it.
// Almost every audit value (hex, identifiers, codes, timestamps) is
// printable ASCII without a quote or backslash and is copied as is; any
// other string goes through nlohmann itself (control characters, non-ASCII
// text and invalid UTF-8 keep exactly its escaping and replacement).
void append_json_string(std::string& out, std::string_view value) {
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x80 || c == '"' || c == '\\') {
      out += dump(json(std::string(value)));
      return;
    }
  }
  out += '"';
  out += value;
  out += '"';
}

// One canonical JSON object written at the end of `out`, members appended
// by the caller in sorted key order (the order of nlohmann's std::map).
// field() leaves an empty value out, as the nlohmann form did.
class CanonicalObject {
 public:
  explicit CanonicalObject(std::string& out) : out_(out), start_(out.size()) {
    if (out_.empty()) out_.reserve(512);
    out_ += '{';
  }
  void field(std::string_view key, std::string_view value) {
    if (!value.empty()) field_always(key, value);
  }
  void field_always(std::string_view key, std::string_view value) {
    name(key);
    append_json_string(out_, value);
  }
  void integer(std::string_view key, std::int64_t value) {
    name(key);
    out_ += std::to_string(value);
  }
  // An "agency.answers" list: an array of objects, each in sorted key order.
  void answers(std::string_view key, const std::vector<AgencyAnswer>& list) {
    if (list.empty()) return;
    name(key);
    out_ += '[';
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out_ += ',';
      const AgencyAnswer& a = list[i];
      CanonicalObject o(out_);
      o.field("detail", a.detail);
      o.field("digest", a.digest);
      if (a.latency_ms >= 0) o.integer("latency_ms", a.latency_ms);
      o.field("source", a.source);
      o.field("status", a.status);
      o.close();
    }
    out_ += ']';
  }
  bool empty() const { return out_.size() == start_ + 1; }
  void close() { out_ += '}'; }

 private:
  void name(std::string_view key) {
    if (out_.size() > start_ + 1) out_ += ',';
    out_ += '"';
    out_ += key;  // the keys above need no escaping
    out_ += "\":";
  }
  std::string& out_;
  std::size_t start_;  // where this object's '{' is
};

// The index columns of hfv-audit/v2, in table order, and the envelope or
// personal field each copies ("operator" is AuditRecord::operator_id).
// Changing this list changes the file format.
const LogSchema& record_schema() {
  static const LogSchema schema{std::string(kLogFormat),
                                {{"action", "TEXT NOT NULL", false},
                                 {"principal", "TEXT", false},
                                 {"operator", "TEXT", true},
                                 {"jurisdiction", "TEXT", false},
                                 {"member", "TEXT", true},
                                 {"case_id", "TEXT", true},
                                 {"source", "TEXT", false},
                                 {"outcome", "TEXT", false}},
                                {{"audit_records_member", "member"},
                                 {"audit_records_case", "case_id"},
                                 {"audit_records_principal", "principal"}}};
  return schema;
}

std::optional<std::string> column_value(const std::string& value) {
  if (value.empty()) return std::nullopt;  // absent: NULL
  return value;
}

Leaf to_leaf(const AuditRecord& r, std::int64_t seq, const std::string& ts) {
  CanonicalRecord c = canonical_record(r, seq, ts);  // writes written_source(r)
  Leaf leaf;
  leaf.envelope = std::move(c.envelope);
  leaf.personal = std::move(c.personal);
  leaf.columns = {r.action,  // never NULL, even when empty
                  column_value(r.principal),
                  column_value(r.operator_id),
                  column_value(r.jurisdiction),
                  column_value(r.member),
                  column_value(r.case_id),
                  column_value(written_source(r)),
                  column_value(r.outcome)};
  return leaf;
}

LeafBatch to_leaves(std::vector<AuditRecord> records) {
  LeafBatch batch;
  batch.count = records.size();
  batch.encode = [records = std::move(records)](std::size_t i, std::int64_t seq,
                                                const std::string& ts) {
    return to_leaf(records[i], seq, ts);
  };
  return batch;
}

// Verification of a row whose leaf hash matches: the envelope carries the
// row's seq and ts, the index columns equal the envelope's or (unless
// erased) the personal part's fields, and the personal part hashes to the
// envelope's personal_sha256.
std::string check_record(const LeafRow& row) {
  const json e = json::parse(row.envelope, nullptr, false);
  bool columns_ok = e.is_object() && e.value("seq", std::int64_t{-1}) == row.seq &&
                    e.value("ts", "") == row.ts && e.value("action", "") == row.columns[0];
  std::size_t index = 1;
  for (const char* key :
       {"principal", "operator", "jurisdiction", "member", "case_id", "source", "outcome"}) {
    const std::string& column = row.columns[index++];
    if (!columns_ok) break;
    if (std::string_view(key) == "operator" || std::string_view(key) == "member" ||
        std::string_view(key) == "case_id") {
      if (row.personal_is_null) {
        columns_ok = column.empty();
      } else {
        const json p = json::parse(row.personal, nullptr, false);
        const std::string value = p.is_object() ? p.value(key, "") : std::string();
        // The column's name is the personal field's (stored_form: see LeafRow).
        const std::string stored =
            row.stored_form && !value.empty() ? row.stored_form(key, value) : value;
        columns_ok = p.is_object() && stored == column;
      }
    } else {
      columns_ok = e.value(key, "") == column;
    }
  }
  if (!columns_ok) return "indexed columns do not match the hashed record";
  if (!row.personal_is_null &&
      crypto::to_hex(crypto::sha256(row.personal)) != e.value("personal_sha256", "")) {
    return "personal fields do not match their commitment";
  }
  return {};
}

// What readers see: the envelope with the personal fields (without the
// salt) merged in, and without the commitment.
std::string merged_view(const std::string& envelope, const std::string& personal) {
  json e = json::parse(envelope, nullptr, false);
  if (e.is_discarded() || !e.is_object()) return envelope;
  e.erase("personal_sha256");
  if (!personal.empty()) {
    json p = json::parse(personal, nullptr, false);
    if (p.is_object()) {
      p.erase("salt");
      for (auto& [k, v] : p.items()) e[k] = v;
    }
  }
  return dump(e);
}

StoredRecord to_record(StoredLeaf leaf) {
  StoredRecord r;
  r.seq = leaf.seq;
  r.ts = std::move(leaf.ts);
  r.body = merged_view(leaf.envelope, leaf.personal);
  r.envelope = std::move(leaf.envelope);
  r.personal = std::move(leaf.personal);
  r.leaf_hash = std::move(leaf.leaf_hash);
  return r;
}

// The query's filters as conditions on the index columns, in the order the
// SQL has always had them.
std::vector<ColumnCondition> conditions_of(const AuditQuery& q) {
  using Op = ColumnCondition::Op;
  std::vector<ColumnCondition> out;
  if (!q.from_ts.empty()) out.push_back({"ts", Op::at_least, {q.from_ts}});
  if (!q.to_ts.empty()) out.push_back({"ts", Op::below, {q.to_ts}});
  auto eq = [&](const char* column, const std::string& value) {
    if (!value.empty()) out.push_back({column, Op::equals, {value}});
  };
  eq("principal", q.principal);
  eq("operator", q.operator_id);
  eq("member", q.member);
  eq("case_id", q.case_id);
  // An "agency.answers" record's source lists its agencies.
  if (!q.source.empty()) out.push_back({"source", Op::listed, {q.source}});
  eq("outcome", q.outcome);
  eq("action", q.action);
  if (!q.actions.empty()) out.push_back({"action", Op::any_of, q.actions});
  if (!q.jurisdiction_prefixes.empty()) {
    out.push_back({"jurisdiction", q.unscoped_too ? Op::null_or_prefix : Op::prefix, q.jurisdiction_prefixes});
  }
  return out;
}

// A fresh 16-byte salt, hex. The generator is asked for 256 salts at once:
// each RAND_bytes call takes OpenSSL's locks and checks for a fork, which
// asked once per record cost the audit writer about 5 % of its CPU
// (docs/performance.md). Drawn and used on the thread that encodes the
// records; each salt is wiped from the buffer as it is taken. brokerd does
// not fork (a forked child would repeat its parent's unused salts).
std::string fresh_salt_hex() {
  constexpr std::size_t kSaltBytes = 16;
  constexpr std::size_t kSaltsDrawn = 256;
  thread_local crypto::Bytes drawn;
  thread_local std::size_t taken = 0;
  if (taken == drawn.size()) {
    drawn = crypto::random_bytes(kSaltBytes * kSaltsDrawn);
    taken = 0;
  }
  const auto salt = std::span(drawn).subspan(taken, kSaltBytes);
  std::string hex = crypto::to_hex(salt);
  std::fill(salt.begin(), salt.end(), std::uint8_t{0});
  taken += kSaltBytes;
  return hex;
}

}  // namespace

std::string sources_of(const std::vector<AgencyAnswer>& answers) {
  std::string out;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (i > 0) out += ',';
    out += answers[i].source;
  }
  return out;
}

std::string written_source(const AuditRecord& record) {
  return record.answers.empty() ? record.source : sources_of(record.answers);
}

CanonicalRecord canonical_record(const AuditRecord& r, std::int64_t seq, const std::string& ts) {
  return canonical_record(r, seq, ts, fresh_salt_hex());
}

// Written directly rather than through an nlohmann::json object (a std::map
// of keys and a dump of every value: about a fifth of the audit writer's
// CPU): the keys below are listed in the order nlohmann's std::map sorts
// them, and each string is escaped as nlohmann's dump escapes it, so the
// bytes — and so every leaf hash and personal_sha256 — are those the
// nlohmann form has always written (tests/audit/canonical_record_test.cpp
// compares both over every field combination).
CanonicalRecord canonical_record(const AuditRecord& r, std::int64_t seq, const std::string& ts,
                                 std::string_view salt_hex) {
  CanonicalRecord out;
  CanonicalObject p(out.personal);
  p.field("authorization_id", r.authorization_id);
  p.field("case_id", r.case_id);
  p.field("member", r.member);
  p.field("operator", r.operator_id);
  p.field("request_id", r.request_id);
  const bool has_personal = !p.empty();
  if (has_personal) {
    // The salt keeps the commitment from confirming guesses of the fields.
    p.field("salt", salt_hex);
    p.close();
  } else {
    out.personal.clear();
  }
  CanonicalObject e(out.envelope);
  e.field_always("action", r.action);
  e.answers("answers", r.answers);
  e.field("centre", r.centre);
  // Only when set: an envelope without them is as it was before they existed.
  e.field("cert_serial", r.cert_serial);
  e.field("cert_sha256", r.cert_sha256);
  e.field("detail", r.detail);
  e.field("digest", r.digest);
  e.field("jurisdiction", r.jurisdiction);
  if (r.latency_ms >= 0) e.integer("latency_ms", r.latency_ms);
  e.field("outcome", r.outcome);
  if (has_personal) e.field_always("personal_sha256", crypto::to_hex(crypto::sha256(out.personal)));
  e.field("principal", r.principal);
  e.field("programme", r.programme);
  e.integer("seq", seq);
  e.field("source", written_source(r));
  e.field("status", r.status);
  e.field_always("ts", ts);
  e.close();
  return out;
}

Result<std::string> AuditLog::export_ndjson(std::int64_t from_seq, std::int64_t to_seq,
                                           const std::function<bool(const std::string&)>& visible) const {
  // Held only for this call (wiped when destroyed): the export's pseudonyms
  // link to nothing else.
  const crypto::SecretKey key = crypto::SecretKey::random();
  auto rekey = [&key](const std::string& personal) -> std::optional<std::string> {
    json p = json::parse(personal, nullptr, false);
    if (!p.is_object()) return std::nullopt;
    const auto member = p.find("member");
    if (member == p.end() || !member->is_string()) return std::nullopt;
    *member = crypto::to_hex(crypto::hmac_sha256(key.bytes(), member->get<std::string>()));
    p.erase("salt");  // with the old salt, personal_sha256 would confirm a guessed stored pseudonym
    return dump(p);
  };
  return VerifiableLog::export_ndjson(from_seq, to_seq, visible, rekey);
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& path,
                                                 const crypto::SecretKey& kek,
                                                 AuditLogOptions options) {
  return open(LogLocation::sqlcipher(path), kek, std::move(options));
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const LogLocation& where,
                                                 const crypto::SecretKey& kek,
                                                 AuditLogOptions options) {
  LogOptions o;
  o.anchor_file = std::move(options.anchor_file);
  o.head_interval = options.head_interval;
  o.on_head = std::move(options.on_head);
  o.on_append = std::move(options.on_append);
  if (options.retention_days > 0) {
    o.personal_cutoff = [days = std::chrono::days(options.retention_days)] {
      return utc_timestamp(std::chrono::system_clock::now() - days);
    };
  }
  std::unique_ptr<AuditLog> log(new AuditLog());
  if (auto s = log->start(where, kek, record_schema(), std::move(o)); !s) return s.error();
  return log;
}

boost::asio::awaitable<Result<std::int64_t>> AuditLog::append(std::vector<AuditRecord> records,
                                                              std::chrono::milliseconds may_wait) {
  LeafBatch leaves = to_leaves(std::move(records));
  leaves.may_wait = may_wait;
  return VerifiableLog::append(std::move(leaves));
}

Result<std::int64_t> AuditLog::append_blocking(std::vector<AuditRecord> records) {
  return VerifiableLog::append_blocking(to_leaves(std::move(records)));
}

Result<ChainReport> AuditLog::verify() const { return VerifiableLog::verify(check_record); }

Result<ChainReport> AuditLog::verify_file(const std::filesystem::path& path,
                                          const crypto::SecretKey& kek,
                                          const std::filesystem::path& anchor_file) {
  return verify_log_file(path, kek, anchor_file, record_schema(), check_record);
}

Result<ChainReport> AuditLog::verify_at(const LogLocation& where, const crypto::SecretKey& kek,
                                        const std::filesystem::path& anchor_file) {
  return verify_log_at(where, kek, anchor_file, record_schema(), check_record);
}

Result<std::vector<StoredRecord>> AuditLog::read(std::int64_t from_seq, std::int64_t limit) const {
  AuditQuery q;
  q.after_seq = from_seq - 1;
  q.limit = limit;
  return query(q);
}

Result<std::vector<StoredRecord>> AuditLog::query(const AuditQuery& q) const {
  auto leaves = VerifiableLog::query(conditions_of(q), q.after_seq, q.limit);
  if (!leaves) return leaves.error();
  std::vector<StoredRecord> out;
  out.reserve(leaves->size());
  for (auto& leaf : *leaves) out.push_back(to_record(std::move(leaf)));
  return out;
}

Status AuditLog::scan(AuditQuery q, const std::function<bool(const StoredRecord&)>& visit) const {
  for (;;) {
    auto page = query(q);
    if (!page) return page.error();
    for (const auto& r : *page) {
      if (!visit(r)) return {};
    }
    if (static_cast<std::int64_t>(page->size()) < q.limit || page->empty()) return {};
    q.after_seq = page->back().seq;
  }
}

Status AuditLog::rotate_data_key(const std::filesystem::path& path, const crypto::SecretKey& kek) {
  return VerifiableLog::rotate_data_key(path, kek, record_schema());
}

Status AuditLog::rotate_data_key(const LogLocation& where, const crypto::SecretKey& kek) {
  return VerifiableLog::rotate_data_key(where, kek, record_schema());
}

Result<merkle::Hash> AuditLog::root_at(const LogLocation& where, const crypto::SecretKey& kek,
                                       std::uint64_t size) {
  return root_at_size(where, kek, record_schema(), size);
}

Result<crypto::Ed25519PublicKey> AuditLog::public_key_at(const LogLocation& where,
                                                         const crypto::SecretKey& kek) {
  return VerifiableLog::public_key_at(where, kek, record_schema());
}

Result<KeyHistory> AuditLog::key_history_at(const LogLocation& where, const crypto::SecretKey& kek) {
  return VerifiableLog::key_history_at(where, kek, record_schema());
}

Result<KeyTransition> AuditLog::rotate_signing_key(const LogLocation& where, const crypto::SecretKey& kek,
                                                   const std::string& origin) {
  return VerifiableLog::rotate_signing_key(where, kek, record_schema(), origin);
}

}  // namespace hfv::audit
