// Cross-region routing (broker/verification/routing.hpp): who answers a
// member's source, and which tables the configuration must refuse.
#include <catch2/catch.hpp>

#include "broker/verification/routing.hpp"

using hfv::HukouRecord;
using hfv::Source;
using hfv::SourceResult;
using hfv::SourceStatus;
using hfv::broker::PeerServes;
using hfv::broker::SourceRoute;
using hfv::broker::RouteTable;
using hfv::broker::route;
using hfv::broker::route_table_problem;

namespace {

// Harbin's broker: its own tax and hukou agencies for 2301, a bank that
// answers for everyone, Hanzhong's broker for 6107, the provincial broker
// for Heilongjiang's provident fund.
RouteTable harbin() {
  RouteTable t;
  t.local[Source::kTax] = {"2301"};
  t.local[Source::kHukou] = {"2301"};
  t.local[Source::kBank] = {""};
  t.peers.push_back(PeerServes{"hanzhong", {"6107"}, {Source::kTax, Source::kHukou, Source::kProvidentFund}});
  t.peers.push_back(PeerServes{"heilongjiang", {"23"}, {Source::kProvidentFund, Source::kTax}});
  return t;
}

}  // namespace

TEST_CASE("routing: the longest prefix that answers the source wins, local before a peer of the same length") {
  const RouteTable t = harbin();
  SECTION("a Harbin member's tax stays local: 2301 is longer than the province's 23") {
    const SourceRoute r = route(t, "230102", Source::kTax);
    CHECK(r.kind == SourceRoute::Kind::kLocal);
    CHECK(r.prefix == "2301");
  }
  SECTION("a Harbin member's provident fund goes to the province: no local agency") {
    const SourceRoute r = route(t, "230102", Source::kProvidentFund);
    CHECK(r.kind == SourceRoute::Kind::kPeer);
    CHECK(r.peer == "heilongjiang");
    CHECK(r.prefix == "23");
  }
  SECTION("a Hanzhong member's tax and hukou go to Hanzhong") {
    for (Source s : {Source::kTax, Source::kHukou}) {
      const SourceRoute r = route(t, "610702", s);
      CHECK(r.kind == SourceRoute::Kind::kPeer);
      CHECK(r.peer == "hanzhong");
    }
  }
  SECTION("the bank answers for everyone: asked locally whatever the division") {
    CHECK(route(t, "610702", Source::kBank).kind == SourceRoute::Kind::kLocal);
    CHECK(route(t, "110108", Source::kBank).kind == SourceRoute::Kind::kLocal);
  }
  SECTION("nobody serves a Beijing member's tax: none, never a guess") {
    const SourceRoute r = route(t, "110108", Source::kTax);
    CHECK(r.kind == SourceRoute::Kind::kNone);
    CHECK(route(t, "230102", Source::kVehicle).kind == SourceRoute::Kind::kNone);
  }
  SECTION("a peer with a longer prefix than the local agency wins") {
    RouteTable u = t;
    u.peers.push_back(PeerServes{"daoli", {"230102"}, {Source::kTax}});
    const SourceRoute r = route(u, "230102", Source::kTax);
    CHECK(r.kind == SourceRoute::Kind::kPeer);
    CHECK(r.peer == "daoli");
    CHECK(route(u, "230103", Source::kTax).kind == SourceRoute::Kind::kLocal);
  }
}

TEST_CASE("routing: a table without peers routes every member locally, as before") {
  RouteTable t;
  for (Source s : hfv::kAllSources) t.local[s] = {""};
  for (Source s : hfv::kAllSources) CHECK(route(t, "610702", s).kind == SourceRoute::Kind::kLocal);
  CHECK_FALSE(route_table_problem(t));
}

TEST_CASE("routing: ambiguous or malformed tables are refused, naming the peer") {
  CHECK_FALSE(route_table_problem(harbin()));
  RouteTable t = harbin();
  t.peers.push_back(PeerServes{"other", {"6107"}, {Source::kTax}});
  auto problem = route_table_problem(t);
  REQUIRE(problem);
  CHECK_THAT(*problem, Catch::Contains("peers.other") && Catch::Contains("hanzhong"));

  t = harbin();
  t.peers.push_back(PeerServes{"shadow", {"2301"}, {Source::kTax}});
  problem = route_table_problem(t);
  REQUIRE(problem);
  CHECK_THAT(*problem, Catch::Contains("local agency"));

  t = harbin();
  t.peers[0].divisions = {"61a7"};
  problem = route_table_problem(t);
  REQUIRE(problem);
  CHECK_THAT(*problem, Catch::Contains("peers.hanzhong.divisions"));

  t = harbin();
  t.peers[1].name = "hanzhong";
  REQUIRE(route_table_problem(t));

  t = harbin();
  t.peers[0].sources.clear();
  REQUIRE(route_table_problem(t));

  t = harbin();
  t.local[Source::kTax] = {"2"};
  problem = route_table_problem(t);
  REQUIRE(problem);
  CHECK_THAT(*problem, Catch::Contains("agencies.tax.divisions"));
}

TEST_CASE("routing: the registration division is the registry's, else the ID number's region code") {
  SourceResult hukou;
  hukou.source = Source::kHukou;
  hukou.status = SourceStatus::kOk;
  hukou.records.hukou = HukouRecord{"610702", "normal"};
  auto reg = hfv::broker::registration_of(&hukou, "230102197503120016");
  CHECK(reg.division == "610702");
  CHECK(reg.from_registry);

  hukou.status = SourceStatus::kNotFound;
  hukou.records.hukou.reset();
  reg = hfv::broker::registration_of(&hukou, "610702198001010011");
  CHECK(reg.division == "610702");
  CHECK_FALSE(reg.from_registry);

  hukou.status = SourceStatus::kTimeout;
  CHECK(hfv::broker::registration_of(&hukou, "230102197503120016").division == "230102");
  CHECK(hfv::broker::registration_of(nullptr, "230102197503120016").division == "230102");

  // A registry answer that is not a 6-digit code is not trusted for routing.
  hukou.status = SourceStatus::kOk;
  hukou.records.hukou = HukouRecord{"61", "normal"};
  reg = hfv::broker::registration_of(&hukou, "230102197503120016");
  CHECK(reg.division == "230102");
  CHECK_FALSE(reg.from_registry);
}
