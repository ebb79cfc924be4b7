// Who answers for one member's source: a local agency or a peer broker
// (docs/cross-region.md "Who asks whom"). Each candidate serves a set of
// GB/T 2260 prefixes for a set of sources; for a member registered in
// `division`, the candidate with the longest prefix of it that answers the
// source wins, a local agency before a peer of the same length. Without a
// candidate nobody is asked and the source fails ("no agency or peer
// serves ..."), as for an agency that is not configured: nothing guessed.
//
// A local agency configured without `divisions` serves every division
// (prefix ""): a broker without peers routes as it always did.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/ops/config.hpp"
#include "common/records.hpp"

namespace hfv::broker {

struct PeerServes {
  std::string name;                    // peers[].name
  std::vector<std::string> divisions;  // prefixes, 2-6 digits
  std::vector<Source> sources;
};

struct RouteTable {
  // Sources with a local agency, and the prefixes each serves ({""}: all).
  std::map<Source, std::vector<std::string>> local;
  std::vector<PeerServes> peers;
};

struct SourceRoute {
  enum class Kind { kLocal, kPeer, kNone };
  Kind kind = Kind::kNone;
  std::string peer;    // kPeer: its name
  std::string prefix;  // the prefix that matched ("" for an unrestricted local agency)
};

SourceRoute route(const RouteTable& table, std::string_view division, Source source);

// The table a configuration makes: its agencies (each with its
// "divisions", or all) and its peers.
RouteTable route_table_of(const Config& config);

// What makes a table ambiguous or unusable, or nothing: a prefix that is
// not 2-6 digits (an unrestricted local agency excepted), two peers with
// the same prefix for the same source, a peer prefix equal to a local
// agency's for a source both answer, a peer without sources or divisions.
// The configuration refuses such a table (naming the peer or agency).
std::optional<std::string> route_table_problem(const RouteTable& table);

// Where a member is registered, for routing: the division the local
// household registry answered (`hukou`: its result for the member, or null
// when none was asked), or, when the registry does not know the person,
// the ID number's region code (its first six digits). A registry that
// failed routes by the ID number too: its failure alone keeps the
// household from being decided eligible (household-composition unknown).
struct Registration {
  std::string division;
  bool from_registry = false;  // false: from the ID number
};
Registration registration_of(const SourceResult* hukou, std::string_view id_number);

}  // namespace hfv::broker
