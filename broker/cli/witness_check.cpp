// check_witnesses (witness_check.hpp).
#include "broker/cli/witness_check.hpp"

#include <charconv>
#include <optional>
#include <string_view>

#include "audit/audit_log.hpp"
#include "audit/checkpoint.hpp"
#include "broker/cli/cli_http.hpp"
#include "broker/store/postgresql/cosigned_store.hpp"

namespace hfv::broker {

namespace {

namespace note = audit::note;

struct WitnessChecker {
  const WitnessCheckInput& in;
  WitnessCheckResult result;

  bool fail(const std::string& who, const std::string& what) {
    result.ok = false;
    result.lines.push_back("FAILED: witness " + who + ": " + what);
    return false;
  }
  void say(const std::string& who, const std::string& what) {
    result.lines.push_back("witness " + who + ": " + what);
  }

  // A cosigned checkpoint note against the log. `witness` null: the
  // cosignature cannot be checked (no key). Returns whether it passed.
  bool check_note(const std::string& who, const AuditWitness* witness, const std::string& text,
                  const std::string& where_from) {
    auto parsed = note::parse_note(text);
    if (!parsed) return fail(who, where_from + ": " + parsed.error().message);
    auto checkpoint = audit::parse_checkpoint(parsed->text);
    if (!checkpoint) return fail(who, where_from + ": " + checkpoint.error().message);
    if (checkpoint->origin != in.origin) {
      return fail(who, where_from + ": the checkpoint's origin is " + checkpoint->origin + ", not " + in.origin);
    }
    if (witness != nullptr) {
      const note::Verifier cosigner[] = {witness->key};
      if (auto v = note::verify_note(*parsed, cosigner); !v) {
        return fail(who, where_from + ": not cosigned by the witness's key (" + v.error().message + ")");
      }
    }
    // Any of the log's signing keys (a checkpoint cosigned before a
    // signing-key rotation carries the retired key's signature).
    std::vector<note::Verifier> log_key{note::make_verifier(in.origin, note::KeyType::kEd25519, in.log_key)};
    for (const auto& k : in.log_keys) {
      if (k != in.log_key) log_key.push_back(note::make_verifier(in.origin, note::KeyType::kEd25519, k));
    }
    if (auto v = note::verify_note(*parsed, log_key); !v) {
      return fail(who, where_from + ": the checkpoint of " + std::to_string(checkpoint->size) +
                           " records is not signed by this audit log's key: the log was replaced"
                           " (wiped and begun again?)");
    }
    // Against the log as it is now (a live log may have grown since its
    // records were counted): a tree it does not hold is a rollback.
    if (checkpoint->size > 0) {
      auto root = audit::AuditLog::root_at(in.where, in.kek, checkpoint->size);
      if (!root && root.error().code == "not_found") {
        return fail(who, "ROLLED BACK: " + where_from + " is a cosigned tree of " +
                             std::to_string(checkpoint->size) + " records, this audit log holds " +
                             std::to_string(in.records));
      }
      if (!root) return fail(who, where_from + ": " + root.error().message);
      if (*root != checkpoint->root) {
        return fail(who, "FORKED: " + where_from + " of " + std::to_string(checkpoint->size) +
                             " records has another root than this audit log's first " +
                             std::to_string(checkpoint->size));
      }
    }
    say(who, where_from + ": " + std::to_string(checkpoint->size) + " records, consistent with this log" +
                 (witness != nullptr ? ", cosignature verified" : " (no key: cosignature not checked)"));
    return true;
  }

  void fetch(const std::string& who, const AuditWitness* witness, const std::string& url) {
    CliRequest request;
    request.url = url + "/" + audit::origin_hash(in.origin) + "/checkpoint";
    request.timeout_seconds = 5;
    const CliAnswer answer = cli_http(request);
    if (answer.status == 0) {
      say(who, "unreachable, its latest checkpoint not compared (" + answer.error + ")");
      return;
    }
    if (answer.status == 404) {
      fail(who, "has cosigned no checkpoint for " + in.origin +
                    ": this audit log is not the one it witnessed (wiped and begun again under a new key?)"
                    " or its heads never reached it");
      return;
    }
    if (answer.status != 200) {
      fail(who, "answered " + std::to_string(answer.status) + " for its latest checkpoint");
      return;
    }
    check_note(who, witness, answer.body, "its latest checkpoint");
  }
};

}  // namespace

WitnessCheckResult check_witnesses(const WitnessCheckInput& input) {
  WitnessChecker c{input, {}};
  std::optional<audit::CosignedFile> stored;
  std::string stored_where = "the stored cosigned checkpoint";
  if (!input.cosigned_conninfo.empty()) {
    stored_where = "the cosigned checkpoint stored in PostgreSQL";
    auto db = storage::PostgresqlDb::connect(input.cosigned_conninfo);
    auto read = db ? pg::read_cosigned(**db, input.origin) : Result<audit::CosignedFile>(db.error());
    if (!read) {
      c.fail("(all)", "the cosigned checkpoints in PostgreSQL: " + read.error().message);
    } else {
      stored = std::move(*read);
    }
  } else if (!input.cosigned_file.empty()) {
    auto read = audit::read_cosigned(input.cosigned_file);
    if (!read) {
      c.fail("(all)", read.error().message);
    } else if (!read->checkpoints.empty() && read->origin != input.origin) {
      c.fail("(all)", input.cosigned_file.string() + " holds checkpoints of " + read->origin + ", not of " +
                          input.origin + ": the log was replaced");
    } else {
      stored = std::move(*read);
    }
  }
  for (const auto& w : input.witnesses) {
    if (stored) {
      if (auto it = stored->checkpoints.find(w.name); it != stored->checkpoints.end()) {
        c.check_note(w.name, &w, it->second, stored_where);
      } else {
        c.say(w.name, "no stored cosigned checkpoint yet");
      }
    }
    c.fetch(w.name, &w, w.url);
  }
  for (auto url : input.extra_urls) {
    while (url.ends_with('/')) url.pop_back();
    c.fetch(url, nullptr, url);
  }
  return std::move(c.result);
}

WitnessAnswer post_add_checkpoint(const std::string& witness_url, const std::string& body,
                                  long timeout_seconds) {
  CliRequest request;
  request.method = "POST";
  request.url = witness_url + "/add-checkpoint";
  request.body = body;
  request.headers = {"Content-Type: text/plain; charset=utf-8"};
  request.timeout_seconds = timeout_seconds;
  const CliAnswer answer = cli_http(request);
  WitnessAnswer out;
  out.status = answer.status;
  if (answer.status == 0) {
    out.reason = answer.error;
    return out;
  }
  out.reason = answer.body.substr(0, 200);
  if (answer.status == 200) {
    out.reply = WitnessReply::kCosigned;
    out.body = answer.body;
  } else if (answer.status == 409) {
    // The body is the witness's size in decimal and a newline.
    std::string_view text = answer.body;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    std::uint64_t size = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
    out.reply = ec == std::errc() && end == text.data() + text.size() && !text.empty() ? WitnessReply::kConflict
                                                                                       : WitnessReply::kRefused;
    out.size = size;
  } else if (answer.status >= 500) {
    out.reply = WitnessReply::kUnavailable;
  } else {
    out.reply = WitnessReply::kRefused;
  }
  return out;
}

}  // namespace hfv::broker
