// hfv-witness's logic, apart from its HTTP server (witness/main.cpp): a
// C2SP tlog-witness (c2sp.org/tlog-witness) for the audit logs of one or
// more brokers. It cosigns (cosignature/v1, audit/checkpoint.hpp) only a
// checkpoint signed by the log key it was configured with for that origin
// and consistent with the latest checkpoint it cosigned for that origin,
// and keeps that latest checkpoint in a state file that it replaces
// atomically and fsyncs before it answers. A broker's audit log restored
// from an older copy, or wiped and begun again under a new key, can then no
// longer get cosignatures, and `brokerctl audit verify` sees that the
// witness knows a bigger tree or another key (docs/operations.md, "Audit
// witnesses").
//
// Configuration (JSON, docs/operations.md):
//   {"name": "audit-office.example/witness",   key name of the witness
//    "key_file": "witness.key",                 Ed25519 PKCS#8 PEM, 0600
//    "state_file": "witness-state.json",
//    "listen": "127.0.0.1:8480",                 address:port (port 0: any)
//    "port_file": "witness.port",                optional: the port, once bound
//    "logs": [{"origin": "...", "vkey": "<origin>+<id>+<key>"}]}
// or, for a log whose signing key was rotated, "vkeys": [the current key's
// vkey, the retired ones'...] instead of "vkey" (docs/operations.md).
// Paths are relative to the configuration file's folder.
//
// Thread-safety: a Witness is used from one thread (the server's single
// I/O thread), which makes the check of the old size and the state update
// one atomic step, as tlog-witness requires.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.hpp"
#include "audit/merkle.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"

namespace hfv::witness {

inline constexpr std::string_view kStateFormat = "hfv-witness-state/v1";

struct WitnessedLog {
  std::string origin;
  audit::note::Verifier key;  // type Ed25519, name == origin
  // More keys of the same log, after it rotated its signing key
  // ("vkeys": the first is `key`): a checkpoint signed by any of them is
  // the log's. The consistency check against what was cosigned before is
  // the same whichever key signed.
  std::vector<audit::note::Verifier> other_keys;
};

struct WitnessConfig {
  std::string name;
  std::filesystem::path key_file;
  std::filesystem::path state_file;
  std::string listen_address = "127.0.0.1";
  unsigned short port = 0;
  std::filesystem::path port_file;  // empty: none
  std::vector<WitnessedLog> logs;
};

// Error code "bad_config", the message naming the field and the reason.
Result<WitnessConfig> load_witness_config(const std::filesystem::path& file);

// One HTTP answer.
struct WitnessAnswer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string refusal;  // why it was refused (for the log); empty on 200
};

class Witness {
 public:
  // Reads the state file (absent: nothing seen yet). Error "bad_state" when
  // it cannot be read or is malformed: the witness must not start forgetting
  // what it saw.
  static Result<Witness> open(std::string name, crypto::Ed25519Signer signer,
                              std::vector<WitnessedLog> logs, std::filesystem::path state_file);

  // POST /add-checkpoint with `body`; `now` is the POSIX time of the
  // cosignature. 200 with the cosignature line; 400 malformed request or
  // old size above the checkpoint's; 403 no valid signature of the log's
  // key; 404 unknown origin; 409 old size is not the latest cosigned size
  // (body: that size, content type text/x.tlog.size); 422 the proof does
  // not verify (or a non-empty one from 0, or equal sizes with other
  // roots); 500 the state could not be saved (nothing cosigned).
  WitnessAnswer add_checkpoint(std::string_view body, std::uint64_t now);
  // GET /<origin hash>/checkpoint: the latest cosigned checkpoint with the
  // log's signature and the witness's cosignature; 404 when none.
  WitnessAnswer latest(std::string_view origin_hash_hex) const;

  audit::note::Verifier verifier() const;

 private:
  struct Seen {
    std::uint64_t size = 0;
    audit::merkle::Hash root{};
    std::string checkpoint;  // the cosigned note
  };
  Witness(std::string name, crypto::Ed25519Signer signer, std::vector<WitnessedLog> logs,
          std::filesystem::path state_file);
  Status save(const std::map<std::string, Seen>& state) const;

  std::string name_;
  crypto::Ed25519Signer signer_;
  std::vector<WitnessedLog> logs_;
  std::filesystem::path state_file_;
  std::map<std::string, Seen> seen_;  // by origin
};

}  // namespace hfv::witness
