// What the batch tests share (tests/batch/batch_test.cpp, and the cluster
// test of a batch across two brokers, tests/cluster/batch_cluster_test.cpp):
// a generated dataset of households across the five jurisdictions with
// planted changes, a keep-alive HTTPS client, and helpers to register the
// households, start a batch and follow its progress.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/stack.hpp"

namespace hfv::testing::batch {

namespace fs = std::filesystem;
using nlohmann::json;

inline const char* const kPlaces[5][2] = {
    {"230100", "230102"}, {"610700", "610702"}, {"110108", "110108"}, {"410500", "410502"}, {"310000", "310101"}};

// A valid 18-character ID number: region, birth date, sequence, ISO 7064 MOD 11-2 check.
inline std::string id_number(const std::string& region, long k) {
  char body[18];
  std::snprintf(body, sizeof body, "%s%04ld%02ld%02ld%03ld", region.c_str(), 1950 + k % 40, 1 + (k / 40) % 12,
                1 + (k / 480) % 28, (k / 13440) % 1000);
  static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (body[i] - '0') * w[i];
  return std::string(body, 17) + "10X98765432"[sum % 11];
}

struct Household {
  std::string case_id, jurisdiction, region;
  std::vector<std::string> ids;
  std::string authorization_id;
};

// Planted changes between the datasets: for baseline households h % 6
// decides (0 assets over the cap, 1 new vehicle, 2 new property, 3 new
// business, 4 assets +50 % under the cap, 5 unchanged); every 97th other
// household's bank fails for its applicant in the second dataset.
enum Plant { kOverCap, kVehicle, kProperty, kBusiness, kAssetsMoved, kUnchanged, kFault, kNone };

struct Dataset {
  std::vector<Household> households;
  std::size_t baseline = 0;
  // Households whose applicant's bank balance is not the usual 3000.00
  // (household index -> decimal yuan), e.g. near a savings cap.
  std::map<std::size_t, std::string> applicant_balance;
  Plant plant(std::size_t h) const {
    if (h < baseline) return static_cast<Plant>(h % 6);
    return h % 97 == 0 ? kFault : kNone;
  }
  // Writes the dataset before (changed == false) or after the changes.
  void write(const fs::path& file, bool changed) const {
    json persons = json::object();
    json faults = json::object();
    for (std::size_t h = 0; h < households.size(); ++h) {
      const auto& hh = households[h];
      const Plant p = changed ? plant(h) : kNone;
      for (std::size_t m = 0; m < hh.ids.size(); ++m) {
        json person = {{"hukou", {{"name", m == 0 ? "户主" : "配偶"}, {"division", hh.region}, {"status", "normal"}}}};
        std::string balance = "3000.00";
        if (m == 0 && applicant_balance.count(h) != 0) balance = applicant_balance.at(h);
        if (m == 0 && p == kOverCap) balance = "999999.00";
        if (m == 0 && p == kAssetsMoved) balance = "4500.00";
        char account[32];
        std::snprintf(account, sizeof account, "6222%015zu", h * 2 + m);
        person["bank"] = json::array(
            {{{"bank", "中国工商银行"}, {"account", account}, {"balance", balance}, {"as_of", "2026-10-31"}}});
        if (m == 0 && p == kVehicle) {
          person["vehicle"] = json::array({{{"plate", "黑A" + std::to_string(10000 + h)},
                                            {"type", "car"},
                                            {"purchase_price", "150000.00"},
                                            {"registered", "2026-05-01"},
                                            {"mobility_aid", false}}});
        }
        if (m == 0 && p == kProperty) {
          person["real_estate"] = json::array({{{"cert_no", "沪(2026)不动产权第" + std::to_string(h) + "号"},
                                                {"use", "commercial"},
                                                {"area_m2", "30.00"},
                                                {"share", 100}}});
        }
        if (m == 0 && p == kBusiness) {
          std::string serial = std::to_string(h);
          serial.insert(0, serial.size() < 7 ? 7 - serial.size() : 0, '0');
          const std::string uscc = "91" + hh.region + "MA" + serial + "X";
          person["business"] = json::array({{{"uscc", uscc},
                                             {"role", "legal_representative"},
                                             {"subscribed_capital", "100000.00"},
                                             {"status", "active"}}});
        }
        if (m == 0 && p == kFault) faults["bank"]["persons"][hh.ids[0]] = "error_500";
        persons[hh.ids[m]] = std::move(person);
      }
    }
    json doc = {{"persons", std::move(persons)}};
    if (!faults.empty()) doc["faults"] = faults;
    std::ofstream(file, std::ios::trunc) << doc.dump();
  }
};

inline Dataset make_dataset(std::size_t count, std::size_t baseline, long person_offset) {
  Dataset d;
  d.baseline = baseline;
  for (std::size_t h = 0; h < count; ++h) {
    Household hh;
    const auto& place = kPlaces[h % 5];
    hh.case_id = "R-" + std::to_string(h);
    hh.jurisdiction = place[0];
    hh.region = place[1];
    const long k = person_offset + static_cast<long>(h) * 2;
    hh.ids.push_back(id_number(hh.region, k));
    if (h % 7 == 0) hh.ids.push_back(id_number(hh.region, k + 1));
    d.households.push_back(std::move(hh));
  }
  return d;
}

// The keep-alive client (stack.hpp), as the review operator.
class Client : public KeepAliveClient {
 public:
  explicit Client(const ClientTls& tls) : KeepAliveClient(tls, "op-review-01", 300) {}
};

inline void set_agency_limit(json& config, int max_concurrent) {
  for (auto& [name, agency] : config["agencies"].items()) agency["max_concurrent"] = max_concurrent;
}

inline void configure(json& config, const fs::path&) {
  config["repeat_window_hours"] = 0;
  config["max_body_bytes"] = 16 * 1024 * 1024;
  for (auto& p : config["principals"]) {
    p["rate_per_second"] = 1000000;
    p["burst"] = 1000000;
  }
  set_agency_limit(config, 64);
  config["review"] = {{"batch_capacity_share", 0.5}, {"change_share", 0.1}};
}

// configure(), with every agency's max_concurrent at `max_concurrent`.
inline auto configure_with_agency_limit(int max_concurrent) {
  return [max_concurrent](json& config, const fs::path& dir) {
    configure(config, dir);
    set_agency_limit(config, max_concurrent);
  };
}

// One authorisation per household, from several connections at once.
inline void register_households(Stack& stack, Client&, Dataset& d) {
  constexpr std::size_t kThreads = 8;
  std::atomic<std::size_t> refused{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client(stack.case_system);
      for (std::size_t h = t; h < d.households.size(); h += kThreads) {
        auto& hh = d.households[h];
        json body = {{"case_id", hh.case_id},       {"jurisdiction", hh.jurisdiction}, {"members", hh.ids},
                     {"categories", "all"},         {"valid_from", "2026-01-01"},
                     {"valid_until", "2027-12-31"}, {"form_sha256", std::string(64, 'c')}};
        auto r = client.send("POST", stack.url + "/v1/authorizations", body.dump());
        if (r.status != 201) {
          ++refused;
          continue;
        }
        hh.authorization_id = json::parse(r.body)["authorization_id"].get<std::string>();
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(refused == 0);
}

// A reference date on which the jurisdiction's parameters are in force:
// each file's newest dibao standard is valid for 12 months
// (policies/data, stale_after_months), so no one date suits all five.
inline const char* reference_date(const std::string& jurisdiction) {
  if (jurisdiction == "610700") return "2025-11-01";
  if (jurisdiction == "410500") return "2022-11-01";
  return "2024-11-01";
}

inline std::string ndjson(const Dataset& d, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t h = from; h < to; ++h) {
    const auto& hh = d.households[h];
    json members = json::array();
    for (std::size_t m = 0; m < hh.ids.size(); ++m) {
      members.push_back({{"id_number", hh.ids[m]}, {"name", m == 0 ? "户主" : "配偶"},
                         {"relation", m == 0 ? "applicant" : "spouse"}});
    }
    out += json{{"case_id", hh.case_id},
                {"programme", "dibao"},
                {"jurisdiction", hh.jurisdiction},
                {"area", "urban"},
                {"reference_date", reference_date(hh.jurisdiction)},
                {"authorization_id", hh.authorization_id},
                {"obligors", json::array()},
                {"members", members}}
               .dump() +
           "\n";
  }
  return out;
}

struct Watched {
  json last;
  double best_rate = 0;
  bool saw_eta = false;
  bool saw_in_flight = false;
};

// Polls GET /v1/batches/{id} until the batch is no longer running.
inline Watched wait_for(Client& client, const std::string& url, const std::string& id,
                 std::chrono::seconds limit = std::chrono::seconds(900)) {
  Watched w;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    auto r = client.send("GET", url + "/v1/batches/" + id);
    if (r.status == 200) {
      w.last = json::parse(r.body);
      w.best_rate = std::max(w.best_rate, w.last.value("rate_per_s", 0.0));
      w.saw_eta |= w.last.contains("eta_s") && w.last["eta_s"].is_number();
      w.saw_in_flight |= w.last.value("in_flight", 0) > 0;
      if (w.last["state"] != "running") return w;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  FAIL("batch " << id << " did not finish in time: " << w.last.dump());
  return w;
}

inline std::string start_batch(Client& client, const std::string& url, const std::string& body) {
  auto r = client.send("POST", url + "/v1/batches", body);
  INFO(r.body.substr(0, 500));
  REQUIRE(r.status == 202);
  const json j = json::parse(r.body);
  REQUIRE(j["state"] == "running");
  return j["batch_id"].get<std::string>();
}

// Replaces the stack's simulator with one serving `dataset` on the same
// port (the broker's agency URLs stay valid); waits until it listens (a
// large dataset takes a while to load on a busy machine).
inline void restart_sim(Stack& stack, const fs::path& dataset, const std::string& name, int latency_ms = 0) {
  const std::string port = hfv::testing::read_file(stack.dir.path / "sim.port");
  REQUIRE(stack.sim->stop(SIGTERM) == 0);
  const fs::path port_file = stack.dir.path / (name + ".port");
  stack.sim = std::make_unique<Process>(
      std::vector<std::string>{AGENCY_SIM_BIN, "--dataset", dataset.string(), "--listen",
                               "127.0.0.1:" + port.substr(0, port.find('\n')), "--port-file", port_file.string(),
                               "--latency-ms", std::to_string(latency_ms)},
      stack.dir.path / (name + ".log"));
  hfv::testing::wait_for_file(port_file, std::chrono::seconds(300));
}

// The UTC calendar day `offset` days from today, YYYY-MM-DD.
inline std::string utc_day(int offset) {
  const auto day = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) + std::chrono::days{offset};
  const std::chrono::year_month_day ymd{day};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return text;
}

// Polls GET /v1/batches/{id} `pause` apart until `done` reaches `at_least`
// (or five minutes pass: a ceiling for a loaded sanitizer build); returns
// the last count seen.
inline long wait_for_done(Client& client, const std::string& url, const std::string& id, long at_least,
                   std::chrono::milliseconds pause) {
  long done = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (done < at_least && std::chrono::steady_clock::now() < until) {
    auto r = client.send("GET", url + "/v1/batches/" + id);
    if (r.status == 200) done = json::parse(r.body)["done"].get<long>();
    if (done < at_least) std::this_thread::sleep_for(pause);
  }
  return done;
}

}  // namespace hfv::testing::batch
