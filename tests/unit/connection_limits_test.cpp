// ConnectionLimits: the books the Server keeps of open connections (issue
// 20), without sockets: limits in all and per address, IPv6 counted by its
// /64, slots given back when destroyed (also after the Server is gone), the
// metrics, and when memory is handed back after a burst.
#include <catch2/catch.hpp>

#include <vector>

#include "broker/api/connection_limits.hpp"

namespace b = hfv::broker;
namespace ip = boost::asio::ip;

namespace {

b::ConnectionLimits::Slot admitted(b::ConnectionLimits& limits, const char* address) {
  auto r = limits.admit(ip::make_address(address));
  REQUIRE(std::holds_alternative<b::ConnectionLimits::Slot>(r));
  return std::get<b::ConnectionLimits::Slot>(std::move(r));
}

std::optional<b::ConnectionRefusal> refusal(b::ConnectionLimits& limits, const char* address) {
  auto r = limits.admit(ip::make_address(address));
  if (const auto* why = std::get_if<b::ConnectionRefusal>(&r)) return *why;
  return std::nullopt;
}

}  // namespace

TEST_CASE("connection limits: per address and in all, given back when a slot goes, counted in the metrics",
          "[unit][limits]") {
  b::Metrics metrics;
  auto limits = b::ConnectionLimits::create(5, 2, &metrics);
  limits->set_trim([] {});
  std::vector<b::ConnectionLimits::Slot> held;
  held.push_back(admitted(*limits, "127.0.0.2"));
  held.push_back(admitted(*limits, "127.0.0.2"));
  CHECK(refusal(*limits, "127.0.0.2") == b::ConnectionRefusal::kPerAddressLimit);
  CHECK(limits->open_from(ip::make_address("127.0.0.2")) == 2);
  held.push_back(admitted(*limits, "127.0.0.3"));
  held.push_back(admitted(*limits, "::ffff:127.0.0.3"));  // the same IPv4 client, mapped
  CHECK(refusal(*limits, "127.0.0.3") == b::ConnectionRefusal::kPerAddressLimit);
  held.push_back(admitted(*limits, "2001:db8:1:2::10"));
  CHECK(limits->open() == 5);
  CHECK(refusal(*limits, "127.0.0.9") == b::ConnectionRefusal::kGlobalLimit);
  held.erase(held.begin());  // one of 127.0.0.2's closes
  CHECK(limits->open() == 4);
  CHECK(limits->open_from(ip::make_address("127.0.0.2")) == 1);
  held.push_back(admitted(*limits, "127.0.0.2"));
  const auto s = b::parse_metrics_text(metrics.render({}));
  CHECK(s.at("hfv_connections_open") == 5);
  CHECK(s.at(R"(hfv_connections_refused_total{reason="per_address_limit"})") == 2);
  CHECK(s.at(R"(hfv_connections_refused_total{reason="global_limit"})") == 1);
  held.clear();
  CHECK(limits->open() == 0);
  CHECK(b::parse_metrics_text(metrics.render({})).at("hfv_connections_open") == 0);
}

TEST_CASE("connection limits: an IPv6 client is counted by its /64", "[unit][limits]") {
  auto limits = b::ConnectionLimits::create(100, 2, nullptr);
  limits->set_trim([] {});
  CHECK(b::ConnectionLimits::key_of(ip::make_address("2001:db8:1:2:aaaa::1")) == ip::make_address("2001:db8:1:2::"));
  CHECK(b::ConnectionLimits::key_of(ip::make_address("::ffff:10.0.0.1")) == ip::make_address("10.0.0.1"));
  auto one = admitted(*limits, "2001:db8:1:2::1");
  auto two = admitted(*limits, "2001:db8:1:2:ffff::2");
  CHECK(refusal(*limits, "2001:db8:1:2:1234:5678:9abc:def0") == b::ConnectionRefusal::kPerAddressLimit);
  auto other = admitted(*limits, "2001:db8:1:3::1");  // the next /64
  CHECK(limits->open() == 3);
}

TEST_CASE("connection limits: a slot outlives the books' owner, and a moved-from slot gives nothing back",
          "[unit][limits]") {
  auto limits = b::ConnectionLimits::create(3, 3, nullptr);
  limits->set_trim([] {});
  std::weak_ptr<b::ConnectionLimits> books = limits;
  auto slot = admitted(*limits, "127.0.0.1");
  auto moved = std::move(slot);
  limits.reset();  // the Server goes first; the connection's frame later
  REQUIRE_FALSE(books.expired());
  CHECK(books.lock()->open() == 1);
  moved = b::ConnectionLimits::Slot();
  CHECK(books.expired());
}

TEST_CASE("connection limits: memory is handed back once after a burst, not per connection", "[unit][limits]") {
  auto limits = b::ConnectionLimits::create(10000, 10000, nullptr);
  std::size_t trims = 0;
  limits->set_trim([&] { ++trims; });
  // Connections coming and going a few at a time: never.
  for (int i = 0; i < 1000; ++i) {
    auto a = admitted(*limits, "127.0.0.1");
    auto c = admitted(*limits, "127.0.0.1");
  }
  CHECK(trims == 0);
  // A burst of 500 that leaves: once, when an eighth of the peak is left.
  std::vector<b::ConnectionLimits::Slot> burst;
  for (int i = 0; i < 500; ++i) burst.push_back(admitted(*limits, "127.0.0.2"));
  while (burst.size() > 63) burst.pop_back();
  CHECK(trims == 0);
  burst.pop_back();  // 62 left: <= 500 / 8
  CHECK(trims == 1);
  burst.clear();
  CHECK(trims == 1);
  CHECK(limits->trims() == 1);
  // Another burst: another trim.
  for (int i = 0; i < 100; ++i) burst.push_back(admitted(*limits, "127.0.0.2"));
  burst.clear();
  CHECK(trims == 2);
}
