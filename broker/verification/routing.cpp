#include "broker/verification/routing.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace hfv::broker {

namespace {

bool is_prefix_code(std::string_view p) {
  return p.size() >= 2 && p.size() <= 6 && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The longest of `prefixes` that begins `division`, or nothing.
std::optional<std::string> longest_match(const std::vector<std::string>& prefixes, std::string_view division) {
  std::optional<std::string> best;
  for (const auto& p : prefixes) {
    if (!division.starts_with(p)) continue;
    if (!best || p.size() > best->size()) best = p;
  }
  return best;
}

}  // namespace

SourceRoute route(const RouteTable& table, std::string_view division, Source source) {
  SourceRoute best;
  if (auto local = table.local.find(source); local != table.local.end()) {
    if (auto match = longest_match(local->second, division)) {
      best.kind = SourceRoute::Kind::kLocal;
      best.prefix = *match;
    }
  }
  for (const auto& peer : table.peers) {
    if (std::find(peer.sources.begin(), peer.sources.end(), source) == peer.sources.end()) continue;
    auto match = longest_match(peer.divisions, division);
    if (!match) continue;
    // Strictly longer: a local agency keeps a tie (route_table_problem
    // refuses two peers with one prefix for one source).
    if (best.kind == SourceRoute::Kind::kNone || match->size() > best.prefix.size()) {
      best.kind = SourceRoute::Kind::kPeer;
      best.peer = peer.name;
      best.prefix = *match;
    }
  }
  return best;
}

std::optional<std::string> route_table_problem(const RouteTable& table) {
  for (const auto& [source, prefixes] : table.local) {
    for (const auto& p : prefixes) {
      if (!p.empty() && !is_prefix_code(p)) {
        return "agencies." + std::string(source_name(source)) + ".divisions: \"" + p +
               "\" is not a division-code prefix of 2-6 digits";
      }
    }
  }
  std::map<std::pair<Source, std::string>, std::string> claimed;  // (source, prefix) -> peer
  std::set<std::string> names;
  for (const auto& peer : table.peers) {
    if (!names.insert(peer.name).second) return "peers: the name \"" + peer.name + "\" is used twice";
    if (peer.divisions.empty()) return "peers." + peer.name + ".divisions: at least one prefix is needed";
    if (peer.sources.empty()) return "peers." + peer.name + ".sources: at least one source is needed";
    for (const auto& p : peer.divisions) {
      if (!is_prefix_code(p)) {
        return "peers." + peer.name + ".divisions: \"" + p + "\" is not a division-code prefix of 2-6 digits";
      }
      for (Source s : peer.sources) {
        auto [it, fresh] = claimed.emplace(std::make_pair(s, p), peer.name);
        if (!fresh) {
          return "peers." + peer.name + ": division " + p + " for " + std::string(source_name(s)) +
                 " is already served by peer " + it->second;
        }
        if (auto local = table.local.find(s); local != table.local.end() &&
            std::find(local->second.begin(), local->second.end(), p) != local->second.end()) {
          return "peers." + peer.name + ": division " + p + " for " + std::string(source_name(s)) +
                 " is already served by the local agency";
        }
      }
    }
  }
  return std::nullopt;
}

RouteTable route_table_of(const Config& config) {
  RouteTable table;
  for (const auto& [name, agency] : config.agencies) {
    const auto source = parse_source(name);
    if (!source) continue;
    const auto d = config.agency_divisions.find(name);
    table.local[*source] = d == config.agency_divisions.end() ? std::vector<std::string>{""} : d->second;
  }
  for (const auto& peer : config.peers) table.peers.push_back({peer.name, peer.divisions, peer.sources});
  return table;
}

Registration registration_of(const SourceResult* hukou, std::string_view id_number) {
  if (hukou != nullptr && hukou->status == SourceStatus::kOk && hukou->records.hukou &&
      is_prefix_code(hukou->records.hukou->division) && hukou->records.hukou->division.size() == 6) {
    return {hukou->records.hukou->division, true};
  }
  return {std::string(id_number.substr(0, 6)), false};
}

}  // namespace hfv::broker
