// The peer query (broker/verification/request.hpp parse_peer_query) and the
// authorisation's commitments and digest a peer checks it with
// (broker/verification/consent.hpp).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "broker/verification/consent.hpp"
#include "broker/verification/request.hpp"

using hfv::Date;
using hfv::Source;
using hfv::broker::FieldError;
using hfv::broker::PeerQuery;
using nlohmann::json;

namespace {

const Date kToday = *Date::parse("2026-12-05");

hfv::broker::StoredAuthorization household_authorization() {
  hfv::broker::StoredAuthorization a;
  a.id = "auth_0123";
  a.case_id = "CASE-1";
  a.jurisdiction = "230100";
  a.valid_from = *Date::parse("2026-01-01");
  a.valid_until = *Date::parse("2027-12-31");
  a.form_sha256 = std::string(64, 'c');
  a.all_categories = true;
  a.member_commitments = {hfv::broker::member_commitment(std::string(64, '1'), "230102197503120016"),
                          hfv::broker::member_commitment(std::string(64, '2'), "610702198503150029")};
  std::sort(a.member_commitments.begin(), a.member_commitments.end());
  a.digest = hfv::broker::authorization_digest(a);
  return a;
}

json query_json() {
  PeerQuery q;
  q.request_id = "ver_abc";
  q.origin_centre = "harbin";
  q.operator_id = "op-1";
  q.purpose = "dibao";
  q.case_id = "CASE-1";
  q.jurisdiction = "230100";
  q.reference_date = *Date::parse("2024-11-01");
  q.deadline_ms = 5000;
  q.authorization = hfv::broker::peer_authorization(household_authorization());
  hfv::broker::PeerMember m;
  m.member_index = 1;
  m.id_number = "610702198503150029";
  m.name = "刘芳";
  m.salt = std::string(64, '2');
  m.division = "610702";
  m.sources = {Source::kHukou, Source::kRealEstate};
  q.members.push_back(m);
  return hfv::broker::peer_query_json(q);
}

std::string field_of(const json& body) {
  auto parsed = hfv::broker::parse_peer_query(body, kToday);
  const auto* e = std::get_if<FieldError>(&parsed);
  return e == nullptr ? std::string("(accepted)") : e->field;
}

}  // namespace

TEST_CASE("peer query: what the origin sends is read back as it was, and its digest is the authorisation's",
          "[unit][cross-region]") {
  const json body = query_json();
  auto parsed = hfv::broker::parse_peer_query(body, kToday);
  REQUIRE(std::holds_alternative<PeerQuery>(parsed));
  const PeerQuery& q = std::get<PeerQuery>(parsed);
  CHECK(hfv::broker::peer_query_json(q) == body);
  CHECK(q.members.at(0).sources == std::vector<Source>{Source::kHukou, Source::kRealEstate});
  // The peer's check: the digest recomputed from the terms sent.
  CHECK(hfv::broker::authorization_digest(hfv::broker::authorization_of(q.authorization)) == q.authorization.digest);
  // The member's commitment opens with its salt and ID number, and with nothing else.
  const auto& commitments = q.authorization.member_commitments;
  const auto opens = [&](const std::string& salt, const std::string& id) {
    return std::binary_search(commitments.begin(), commitments.end(), hfv::broker::member_commitment(salt, id));
  };
  CHECK(opens(std::string(64, '2'), "610702198503150029"));
  CHECK_FALSE(opens(std::string(64, '3'), "610702198503150029"));
  CHECK_FALSE(opens(std::string(64, '2'), "230102197503120016"));
}

TEST_CASE("peer query: any change to the authorisation's terms changes its digest", "[unit][cross-region]") {
  const auto a = household_authorization();
  const std::string digest = hfv::broker::authorization_digest(a);
  auto changed = [&](auto edit) {
    auto b = a;
    edit(b);
    return hfv::broker::authorization_digest(b) != digest;
  };
  CHECK(changed([](auto& b) { b.valid_until = *Date::parse("2099-12-31"); }));
  CHECK(changed([](auto& b) { b.case_id = "CASE-2"; }));
  CHECK(changed([](auto& b) { b.jurisdiction = "230102"; }));
  CHECK(changed([](auto& b) {
    b.all_categories = false;
    b.categories = {Source::kBank};
  }));
  CHECK(changed([](auto& b) { b.form_sha256 = std::string(64, 'd'); }));
  CHECK(changed([](auto& b) { b.member_commitments.pop_back(); }));
  CHECK(changed([](auto& b) { b.id = "auth_0124"; }));
}

TEST_CASE("peer query: a malformed query is refused naming the field", "[unit][cross-region]") {
  const json good = query_json();
  auto edited = [&](auto edit) {
    json b = good;
    edit(b);
    return field_of(b);
  };
  CHECK(field_of(good) == "(accepted)");
  CHECK(edited([](json& b) { b["extra"] = 1; }) == "extra");
  CHECK(edited([](json& b) { b["purpose"] = "loans"; }) == "purpose");
  CHECK(edited([](json& b) { b["origin_centre"] = "Harbin City"; }) == "origin_centre");
  CHECK(edited([](json& b) { b["deadline_ms"] = 0; }) == "deadline_ms");
  CHECK(edited([](json& b) { b["reference_date"] = "2027-01-01"; }) == "reference_date");
  CHECK(edited([](json& b) { b["authorization"]["digest"] = "XYZ"; }) == "authorization.digest");
  CHECK(edited([](json& b) {
    auto& c = b["authorization"]["member_commitments"];
    std::swap(c[0], c[1]);
  }) == "authorization.member_commitments[1]");
  CHECK(edited([](json& b) { b["members"][0]["id_number"] = "610702198503150020"; }) == "members[0].id_number");
  CHECK(edited([](json& b) { b["members"][0]["salt"] = "00"; }) == "members[0].salt");
  CHECK(edited([](json& b) { b["members"][0]["division"] = "6107"; }) == "members[0].division");
  CHECK(edited([](json& b) { b["members"][0]["sources"] = json::array({"tax", "tax"}); }) == "members[0].sources[1]");
  CHECK(edited([](json& b) { b["members"].push_back(b["members"][0]); }) == "members[1].member_index");
  CHECK(edited([](json& b) { b.erase("authorization"); }) == "authorization");
}
