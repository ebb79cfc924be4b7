// household_json: the engine's input as JSON, declared in policies/household_json.hpp.
#include "policies/household_json.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace hfv::policies {

using nlohmann::json;

namespace {

json date_json(const std::optional<Date>& d) { return d ? json(d->to_string()) : json(nullptr); }
json fen_json(const std::optional<Money>& m) { return m ? json(m->fen()) : json(nullptr); }

json records_json(const NormalisedRecords& r) {
  json holdings = json::array();
  for (const auto& h : r.holdings) {
    holdings.push_back({{"institution", h.institution},
                        {"account_masked", h.account_masked},
                        {"amount_fen", h.amount.fen()},
                        {"as_of", date_json(h.as_of)}});
  }
  json income = json::array();
  for (const auto& i : r.income) {
    income.push_back({{"year", i.year},
                      {"month", i.month},
                      {"kind", std::string(income_kind_name(i.kind))},
                      {"amount_fen", i.amount.fen()},
                      {"basic_part_fen", i.basic_part.fen()},
                      {"tax_withheld_fen", i.tax_withheld.fen()}});
  }
  json contributions = json::array();
  for (const auto& c : r.contributions) {
    contributions.push_back({{"year", c.year},
                             {"month", c.month},
                             {"type", c.type},
                             {"base_fen", c.base.fen()},
                             {"personal_fen", c.personal.fen()}});
  }
  json real_estate = json::array();
  for (const auto& e : r.real_estate) {
    real_estate.push_back({{"certificate_masked", e.certificate_masked},
                           {"use", e.use},
                           {"area_centi_m2", e.area_centi_m2},
                           {"share_percent", e.share_percent}});
  }
  json vehicles = json::array();
  for (const auto& v : r.vehicles) {
    vehicles.push_back({{"plate_masked", v.plate_masked},
                        {"type", v.type},
                        {"purchase_price_fen", v.purchase_price.fen()},
                        {"registered", date_json(v.registered)},
                        {"mobility_aid", v.mobility_aid}});
  }
  json businesses = json::array();
  for (const auto& b : r.businesses) {
    businesses.push_back({{"uscc_masked", b.uscc_masked},
                          {"role", b.role},
                          {"subscribed_capital_fen", b.subscribed_capital.fen()},
                          {"status", b.status}});
  }
  json fund = r.provident_fund
                  ? json{{"balance_fen", r.provident_fund->balance.fen()},
                         {"monthly_deposit_fen", r.provident_fund->monthly_deposit.fen()}}
                  : json(nullptr);
  json hukou =
      r.hukou ? json{{"division", r.hukou->division}, {"status", r.hukou->status}} : json(nullptr);
  return {{"holdings", holdings},       {"income", income},     {"contributions", contributions},
          {"real_estate", real_estate}, {"vehicles", vehicles}, {"businesses", businesses},
          {"provident_fund", fund},     {"hukou", hukou}};
}

// A malformed archive: which key, for the error message.
struct Bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Strict reading of one object: every key it reads must be there with the
// right type, and no other key may be (checked by done()).
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) throw Bad(path_ + " is not an object");
  }
  const json& at(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end()) throw Bad(path_ + "." + key + " is missing");
    ++read_;
    return *it;
  }
  std::string where(const char* key) const { return path_ + "." + key; }
  std::string text(const char* key) {
    const json& v = at(key);
    if (!v.is_string()) throw Bad(where(key) + " is not a string");
    return v.get<std::string>();
  }
  std::int64_t integer(const char* key) {
    const json& v = at(key);
    if (!v.is_number_integer()) throw Bad(where(key) + " is not an integer");
    return v.get<std::int64_t>();
  }
  bool flag(const char* key) {
    const json& v = at(key);
    if (!v.is_boolean()) throw Bad(where(key) + " is not a boolean");
    return v.get<bool>();
  }
  Money fen(const char* key) { return Money::from_fen(integer(key)); }
  Date date(const char* key) {
    auto d = Date::parse(text(key));
    if (!d) throw Bad(where(key) + " is not a date");
    return *d;
  }
  std::optional<Date> maybe_date(const char* key) {
    if (at(key).is_null()) return std::nullopt;
    --read_;
    return date(key);
  }
  std::optional<Money> maybe_fen(const char* key) {
    if (at(key).is_null()) return std::nullopt;
    --read_;
    return fen(key);
  }
  std::optional<std::int64_t> maybe_integer(const char* key) {
    if (at(key).is_null()) return std::nullopt;
    --read_;
    return integer(key);
  }
  const json& array(const char* key) {
    const json& v = at(key);
    if (!v.is_array()) throw Bad(where(key) + " is not an array");
    return v;
  }
  void done() const {
    if (read_ != j_.size()) throw Bad(path_ + " has a key this build does not know");
  }

 private:
  const json& j_;
  std::string path_;
  std::size_t read_ = 0;
};

std::string item(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

int small_int(std::int64_t v, const std::string& where) {
  if (v < -1000000 || v > 1000000) throw Bad(where + " is out of range");
  return static_cast<int>(v);
}

NormalisedRecords parse_records(const json& j, const std::string& path) {
  Reader r(j, path);
  NormalisedRecords out;
  const json& holdings = r.array("holdings");
  for (std::size_t i = 0; i < holdings.size(); ++i) {
    Reader h(holdings[i], item(path + ".holdings", i));
    out.holdings.push_back({h.text("institution"), h.text("account_masked"), h.fen("amount_fen"),
                            h.maybe_date("as_of")});
    h.done();
  }
  const json& income = r.array("income");
  for (std::size_t i = 0; i < income.size(); ++i) {
    const std::string p = item(path + ".income", i);
    Reader x(income[i], p);
    IncomeRecord rec;
    rec.year = small_int(x.integer("year"), p);
    rec.month = static_cast<unsigned>(small_int(x.integer("month"), p));
    auto kind = parse_income_kind(x.text("kind"));
    if (!kind) throw Bad(p + ".kind is not an income kind");
    rec.kind = *kind;
    rec.amount = x.fen("amount_fen");
    rec.basic_part = x.fen("basic_part_fen");
    rec.tax_withheld = x.fen("tax_withheld_fen");
    x.done();
    out.income.push_back(rec);
  }
  const json& contributions = r.array("contributions");
  for (std::size_t i = 0; i < contributions.size(); ++i) {
    const std::string p = item(path + ".contributions", i);
    Reader x(contributions[i], p);
    ContributionRecord rec;
    rec.year = small_int(x.integer("year"), p);
    rec.month = static_cast<unsigned>(small_int(x.integer("month"), p));
    rec.type = x.text("type");
    rec.base = x.fen("base_fen");
    rec.personal = x.fen("personal_fen");
    x.done();
    out.contributions.push_back(std::move(rec));
  }
  const json& estate = r.array("real_estate");
  for (std::size_t i = 0; i < estate.size(); ++i) {
    const std::string p = item(path + ".real_estate", i);
    Reader x(estate[i], p);
    RealEstateRecord rec;
    rec.certificate_masked = x.text("certificate_masked");
    rec.use = x.text("use");
    rec.area_centi_m2 = x.integer("area_centi_m2");
    rec.share_percent = small_int(x.integer("share_percent"), p);
    x.done();
    out.real_estate.push_back(std::move(rec));
  }
  const json& vehicles = r.array("vehicles");
  for (std::size_t i = 0; i < vehicles.size(); ++i) {
    Reader x(vehicles[i], item(path + ".vehicles", i));
    VehicleRecord rec;
    rec.plate_masked = x.text("plate_masked");
    rec.type = x.text("type");
    rec.purchase_price = x.fen("purchase_price_fen");
    rec.registered = x.maybe_date("registered");
    rec.mobility_aid = x.flag("mobility_aid");
    x.done();
    out.vehicles.push_back(std::move(rec));
  }
  const json& businesses = r.array("businesses");
  for (std::size_t i = 0; i < businesses.size(); ++i) {
    Reader x(businesses[i], item(path + ".businesses", i));
    BusinessRecord rec;
    rec.uscc_masked = x.text("uscc_masked");
    rec.role = x.text("role");
    rec.subscribed_capital = x.fen("subscribed_capital_fen");
    rec.status = x.text("status");
    x.done();
    out.businesses.push_back(std::move(rec));
  }
  if (const json& fund = r.at("provident_fund"); !fund.is_null()) {
    Reader x(fund, path + ".provident_fund");
    out.provident_fund = ProvidentFundRecord{x.fen("balance_fen"), x.fen("monthly_deposit_fen")};
    x.done();
  }
  if (const json& hukou = r.at("hukou"); !hukou.is_null()) {
    Reader x(hukou, path + ".hukou");
    out.hukou = HukouRecord{x.text("division"), x.text("status")};
    x.done();
  }
  r.done();
  return out;
}

std::optional<SourceStatus> parse_status(std::string_view name) {
  for (auto s : {SourceStatus::kOk, SourceStatus::kNotFound, SourceStatus::kTimeout,
                 SourceStatus::kError, SourceStatus::kDenied}) {
    if (status_name(s) == name) return s;
  }
  return std::nullopt;
}

HouseholdInput parse_household(const json& j) {
  Reader r(j, "household");
  HouseholdInput h;
  const std::int64_t count = r.integer("member_count");
  if (count < 0 || count > 100) throw Bad("household.member_count is out of range");
  h.member_count = static_cast<std::size_t>(count);
  const json& members = r.array("members");
  for (std::size_t i = 0; i < members.size(); ++i) {
    const std::string p = item("household.members", i);
    Reader m(members[i], p);
    MemberFacts f;
    f.birth_date = m.date("birth_date");
    f.relation = m.text("relation");
    if (auto g = m.maybe_integer("disability_grade")) f.disability_grade = small_int(*g, p);
    f.disability_kind = m.text("disability_kind");
    f.serious_illness = m.flag("serious_illness");
    f.employed = m.flag("employed");
    f.labour_capacity = m.text("labour_capacity");
    if (auto g = m.maybe_integer("disabled_serviceman_grade"))
      f.disabled_serviceman_grade = small_int(*g, p);
    f.entitled_group_pension = m.flag("entitled_group_pension");
    m.done();
    h.members.push_back(std::move(f));
  }
  auto area = parse_area(r.text("area"));
  if (!area) throw Bad("household.area is not an area");
  h.area = *area;
  h.reference_date = r.date("reference_date");
  h.programme = r.text("programme");
  const json& sources = r.array("sources");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const std::string p = item("household.sources", i);
    Reader s(sources[i], p);
    SourceResult result;
    const std::int64_t member = s.integer("member_index");
    if (member < 0 || static_cast<std::size_t>(member) >= h.members.size())
      throw Bad(p + ".member_index is out of range");
    result.member_index = static_cast<std::size_t>(member);
    auto source = parse_source(s.text("source"));
    if (!source) throw Bad(p + ".source is not a source");
    result.source = *source;
    auto status = parse_status(s.text("status"));
    if (!status) throw Bad(p + ".status is not a status");
    result.status = *status;
    result.records = parse_records(s.at("records"), p + ".records");
    s.done();
    h.sources.push_back(std::move(result));
  }
  if (const json& current = r.at("current_benefit"); !current.is_null()) {
    Reader c(current, "household.current_benefit");
    CurrentBenefit b;
    auto programme = parse_programme(c.text("programme"));
    if (!programme) throw Bad("household.current_benefit.programme is not a programme");
    b.programme = *programme;
    b.since = c.date("since");
    b.gradual_exit_until = c.maybe_date("gradual_exit_until");
    if (const json& self = c.at("self_reported"); !self.is_null()) {
      if (!self.is_boolean()) throw Bad("household.current_benefit.self_reported is not a boolean");
      b.self_reported = self.get<bool>();
    }
    b.monthly_amount = c.maybe_fen("monthly_amount_fen");
    b.amount_set_on = c.maybe_date("amount_set_on");
    c.done();
    h.current_benefit = b;
  }
  if (const json& obligors = r.at("obligors"); !obligors.is_null()) {
    if (!obligors.is_array()) throw Bad("household.obligors is not an array");
    h.obligors.emplace();
    for (std::size_t i = 0; i < obligors.size(); ++i) {
      const std::string p = item("household.obligors", i);
      Reader o(obligors[i], p);
      ObligorHousehold ob;
      const std::int64_t n = o.integer("member_count");
      if (n < 0 || n > 100) throw Bad(p + ".member_count is out of range");
      ob.member_count = static_cast<std::size_t>(n);
      ob.disposable_income_monthly = o.maybe_fen("disposable_income_monthly_fen");
      ob.rigid_spending_monthly = o.fen("rigid_spending_monthly_fen");
      ob.receives_assistance = o.flag("receives_assistance");
      ob.evidence_sha256 = o.text("evidence_sha256");
      o.done();
      h.obligors->push_back(std::move(ob));
    }
  }
  const json& care = r.array("care_levels");
  for (std::size_t i = 0; i < care.size(); ++i) {
    if (!care[i].is_string()) throw Bad(item("household.care_levels", i) + " is not a string");
    h.care_levels.push_back(care[i].get<std::string>());
  }
  const json& rigid = r.array("rigid_spending");
  for (std::size_t i = 0; i < rigid.size(); ++i) {
    Reader x(rigid[i], item("household.rigid_spending", i));
    RigidSpending s;
    s.kind = x.text("kind");
    s.amount = x.fen("amount_fen");
    s.monthly = x.flag("monthly");
    s.evidence_sha256 = x.text("evidence_sha256");
    x.done();
    h.rigid_spending.push_back(std::move(s));
  }
  if (const json& emergency = r.at("emergency"); !emergency.is_null()) {
    Reader e(emergency, "household.emergency");
    h.emergency = Emergency{e.text("cause"), e.date("event_date"), e.text("evidence_sha256")};
    e.done();
  }
  r.done();
  return h;
}

}  // namespace

json household_input_json(const HouseholdInput& h) {
  json members = json::array();
  for (const auto& m : h.members) {
    members.push_back(
        {{"birth_date", m.birth_date.to_string()},
         {"relation", m.relation},
         {"disability_grade", m.disability_grade ? json(*m.disability_grade) : json(nullptr)},
         {"disability_kind", m.disability_kind},
         {"serious_illness", m.serious_illness},
         {"employed", m.employed},
         {"labour_capacity", m.labour_capacity},
         {"disabled_serviceman_grade",
          m.disabled_serviceman_grade ? json(*m.disabled_serviceman_grade) : json(nullptr)},
         {"entitled_group_pension", m.entitled_group_pension}});
  }
  json sources = json::array();
  for (const auto& s : h.sources) {
    sources.push_back({{"member_index", s.member_index},
                       {"source", std::string(source_name(s.source))},
                       {"status", std::string(status_name(s.status))},
                       {"records", records_json(s.records)}});
  }
  json current = nullptr;
  if (h.current_benefit) {
    const CurrentBenefit& b = *h.current_benefit;
    current = {{"programme", std::string(programme_name(b.programme))},
               {"since", b.since.to_string()},
               {"gradual_exit_until", date_json(b.gradual_exit_until)},
               {"self_reported", b.self_reported ? json(*b.self_reported) : json(nullptr)},
               {"monthly_amount_fen", fen_json(b.monthly_amount)},
               {"amount_set_on", date_json(b.amount_set_on)}};
  }
  json obligors = nullptr;
  if (h.obligors) {
    obligors = json::array();
    for (const auto& o : *h.obligors) {
      obligors.push_back({{"member_count", o.member_count},
                          {"disposable_income_monthly_fen", fen_json(o.disposable_income_monthly)},
                          {"rigid_spending_monthly_fen", o.rigid_spending_monthly.fen()},
                          {"receives_assistance", o.receives_assistance},
                          {"evidence_sha256", o.evidence_sha256}});
    }
  }
  json rigid = json::array();
  for (const auto& s : h.rigid_spending) {
    rigid.push_back({{"kind", s.kind},
                     {"amount_fen", s.amount.fen()},
                     {"monthly", s.monthly},
                     {"evidence_sha256", s.evidence_sha256}});
  }
  json emergency = h.emergency ? json{{"cause", h.emergency->cause},
                                      {"event_date", h.emergency->event_date.to_string()},
                                      {"evidence_sha256", h.emergency->evidence_sha256}}
                               : json(nullptr);
  return {{"member_count", h.member_count},
          {"members", members},
          {"area", std::string(area_name(h.area))},
          {"reference_date", h.reference_date.to_string()},
          {"programme", h.programme},
          {"sources", sources},
          {"current_benefit", current},
          {"obligors", obligors},
          {"care_levels", h.care_levels},
          {"rigid_spending", rigid},
          {"emergency", emergency}};
}

json normalised_records_json(const NormalisedRecords& records) { return records_json(records); }

Result<NormalisedRecords> parse_normalised_records(const json& document, const std::string& path) {
  try {
    return parse_records(document, path);
  } catch (const Bad& e) {
    return make_error("records_unreadable", e.what());
  } catch (const json::exception&) {
    return make_error("records_unreadable", path + " is not in the normalised records format");
  }
}

std::optional<SourceStatus> parse_source_status(std::string_view name) { return parse_status(name); }

Result<HouseholdInput> parse_household_input(const json& document) {
  try {
    return parse_household(document);
  } catch (const Bad& e) {
    return make_error("archive_unreadable", e.what());
  } catch (const json::exception&) {
    return make_error("archive_unreadable", "the archived input is not the engine's input format");
  }
}

}  // namespace hfv::policies
