// BatchManager's running batch, shared by batch.cpp (running it) and
// batch_requests.cpp (creating and reading it). Private to broker/reviews/.
// Threading: used on the service's I/O thread only (a resumed batch's items
// are loaded on the blocking pool before it is launched).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "broker/ops/config.hpp"
#include "broker/reviews/batch.hpp"

namespace hfv::broker {

// Completions within this window give a batch's rate and ETA.
inline constexpr auto kRateWindow = std::chrono::seconds(30);

struct BatchManager::Run {
  BatchRow batch;
  // Every household of the batch. A request body is held only from its
  // claim (claim_items returns it) to the end of its turn (turn_over): the
  // whole batch's bodies kept for the whole run grew brokerd's heap through
  // a 25,000 batch (71 to 85 MB, against a flat 67 MB without them;
  // docs/performance.md).
  std::vector<BatchItem> items;
  // Per item, for capacity accounting: counted from the body where it is
  // parsed anyway (a new batch) or on the blocking pool (a resumed one),
  // never on the I/O thread for a whole batch at once.
  std::vector<std::size_t> members;
  std::map<std::int64_t, std::size_t> position;  // item index -> position in items
  std::deque<std::size_t> claimed;  // positions this node claimed and has not started
  // Another node cancelled or finished the batch: this node stops without
  // writing its outputs (the node that did writes them).
  bool ended_elsewhere = false;
  std::size_t done = 0, failed = 0, cancelled = 0, in_flight = 0;
  bool cancel_requested = false;
  bool finished = false;
  std::vector<BatchItem> dirty;  // results not yet written
  bool flushing = false;
  std::chrono::steady_clock::time_point last_flush = std::chrono::steady_clock::now();
  std::deque<std::chrono::steady_clock::time_point> completions;  // within kRateWindow, for rate and ETA
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::size_t completed_here = 0;
  std::string principal_jurisdictions;

  // A household whose request body is `body` queries this many members
  // (at least one: an invalid body fails its verification, as one).
  static std::size_t members_of(const nlohmann::json& body);
  // The turn of the household at position `at` (in items) is over: its
  // body is dropped (a later claim reads it again from the store) and its
  // result waits for the next flush.
  void turn_over(std::size_t at);

  // What the batch's own audit records concern: the division prefix its
  // households' jurisdictions share ("" when they span provinces).
  std::string jurisdiction() const {
    std::vector<std::string> codes;
    codes.reserve(items.size());
    for (const BatchItem& item : items) codes.push_back(item.jurisdiction);
    return common_division_prefix(codes);
  }
};

}  // namespace hfv::broker
