// ConnectionLimits: the client connections open, in all and by client
// address, held against the configuration's "limits" (docs/configuration.md),
// and when to hand memory freed by a burst of them back to the system.
// Bookkeeping only (no sockets), so it is tested without any: the Server
// asks admit() for each accepted connection and closes it at once when
// refused; the Slot it gets back counts the connection until destroyed.
//
// Each Slot shares ownership of the books: a connection's coroutine frame
// may be destroyed after the Server (the io_context's destructor destroys
// what is still pending), and its slot must still have books to return to.
// Thread-safety: not thread-safe; the Server uses it on its I/O thread.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <variant>

#include "broker/ops/metrics.hpp"

namespace hfv::broker {

class ConnectionLimits : public std::enable_shared_from_this<ConnectionLimits> {
 public:
  // A burst is over when, after at least kTrimPeak connections were open at
  // once since the last trim, no more than an eighth of that peak is left:
  // then the memory the burst freed goes back to the system
  // (release_free_heap, ops/heap.hpp).
  // Each trim thus follows at least kTrimPeak * 7/8 connections opened and
  // closed, so a client cycling connections cannot make it run per connection.
  static constexpr std::size_t kTrimPeak = 64;

  // `metrics` (may be null) gets hfv_connections_open and the refusals.
  static std::shared_ptr<ConnectionLimits> create(std::size_t max_total, std::size_t max_per_address,
                                                  Metrics* metrics);

  // A connection's place under the limits; gives it back when destroyed.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept = default;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    friend class ConnectionLimits;
    Slot(std::shared_ptr<ConnectionLimits> books, const boost::asio::ip::address& key)
        : books_(std::move(books)), key_(key) {}
    std::shared_ptr<ConnectionLimits> books_;
    boost::asio::ip::address key_;
  };

  // A slot for a connection from `address`, or the limit it is over (then
  // counted in the metrics; the caller closes the connection).
  std::variant<Slot, ConnectionRefusal> admit(const boost::asio::ip::address& address);

  std::size_t open() const { return open_; }
  std::size_t open_from(const boost::asio::ip::address& address) const;
  std::size_t max_total() const { return max_total_; }
  std::size_t max_per_address() const { return max_per_address_; }

  // What an address is counted under: IPv4 (also mapped into IPv6) as it
  // is; IPv6 by its /64, the block one subscriber usually holds.
  static boost::asio::ip::address key_of(const boost::asio::ip::address& address);

  // What a trim does (default: release_free_heap); tests count calls instead.
  void set_trim(std::function<void()> trim) { trim_ = std::move(trim); }
  std::size_t trims() const { return trims_; }

 private:
  ConnectionLimits(std::size_t max_total, std::size_t max_per_address, Metrics* metrics);
  void release(const boost::asio::ip::address& key);

  std::size_t max_total_;
  std::size_t max_per_address_;
  Metrics* metrics_;
  std::size_t open_ = 0;
  std::map<boost::asio::ip::address, std::size_t> by_address_;  // only addresses with connections open
  std::size_t peak_since_trim_ = 0;
  std::size_t trims_ = 0;
  std::function<void()> trim_;
};

}  // namespace hfv::broker
