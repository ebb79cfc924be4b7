#include "broker/api/connection_limits.hpp"

#include <algorithm>
#include <optional>

#include "broker/ops/heap.hpp"

namespace hfv::broker {

namespace ip = boost::asio::ip;

std::shared_ptr<ConnectionLimits> ConnectionLimits::create(std::size_t max_total, std::size_t max_per_address,
                                                           Metrics* metrics) {
  return std::shared_ptr<ConnectionLimits>(new ConnectionLimits(max_total, max_per_address, metrics));
}

ConnectionLimits::ConnectionLimits(std::size_t max_total, std::size_t max_per_address, Metrics* metrics)
    : max_total_(max_total),
      max_per_address_(max_per_address),
      metrics_(metrics),
      trim_(release_free_heap) {
  if (metrics_ != nullptr) metrics_->set_connections_open(0);
}

ip::address ConnectionLimits::key_of(const ip::address& address) {
  if (address.is_v4()) return address;
  const ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6);
  ip::address_v6::bytes_type bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), static_cast<unsigned char>(0));
  return ip::address_v6(bytes);
}

std::size_t ConnectionLimits::open_from(const ip::address& address) const {
  const auto it = by_address_.find(key_of(address));
  return it == by_address_.end() ? 0 : it->second;
}

std::variant<ConnectionLimits::Slot, ConnectionRefusal> ConnectionLimits::admit(const ip::address& address) {
  const ip::address key = key_of(address);
  std::optional<ConnectionRefusal> refused;
  if (open_ >= max_total_) {
    refused = ConnectionRefusal::kGlobalLimit;
  } else if (const auto it = by_address_.find(key); it != by_address_.end() && it->second >= max_per_address_) {
    refused = ConnectionRefusal::kPerAddressLimit;
  }
  if (refused) {
    if (metrics_ != nullptr) metrics_->observe_connection_refused(*refused);
    return *refused;
  }
  ++by_address_[key];
  ++open_;
  peak_since_trim_ = std::max(peak_since_trim_, open_);
  if (metrics_ != nullptr) metrics_->set_connections_open(open_);
  return Slot(shared_from_this(), key);
}

void ConnectionLimits::release(const ip::address& key) {
  if (auto it = by_address_.find(key); it != by_address_.end() && --it->second == 0) by_address_.erase(it);
  --open_;
  if (metrics_ != nullptr) metrics_->set_connections_open(open_);
  if (peak_since_trim_ >= kTrimPeak && open_ <= peak_since_trim_ / 8) {
    peak_since_trim_ = open_;
    ++trims_;
    if (trim_) trim_();
  }
}

ConnectionLimits::Slot& ConnectionLimits::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    if (books_) books_->release(key_);
    books_ = std::move(other.books_);
    key_ = other.key_;
  }
  return *this;
}

ConnectionLimits::Slot::~Slot() {
  if (books_) books_->release(key_);
}

}  // namespace hfv::broker
