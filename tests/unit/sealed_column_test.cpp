#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "broker/store/postgresql/schema.hpp"
#include "crypto/aead.hpp"
#include "storage/compression.hpp"

namespace pg = hfv::broker::pg;
using hfv::storage::zstd_compress;
using hfv::storage::zstd_decompress;

namespace {

// A report-like JSON body: 4 members × 11 sources with their figures
// (about 12 KB; the bench's real reports are about 35 KB).
std::string report_like() {
  nlohmann::json members = nlohmann::json::array();
  for (int m = 0; m < 4; ++m) {
    nlohmann::json sources = nlohmann::json::array();
    for (int s = 0; s < 11; ++s) {
      sources.push_back({{"source", "source-" + std::to_string(s)},
                         {"status", "answered"},
                         {"records", {{{"bank", "中国工商银行"}, {"balance", std::to_string(1000 + 37 * m + s) + ".00"},
                                       {"as_of", "2024-11-01"}, {"account", "6222" + std::to_string(m * 100 + s)}}}},
                         {"explanation", "counted as monetary assets at the balance on the reference date; source "
                                         "answered within its deadline"}});
    }
    members.push_back({{"member", "m" + std::to_string(m)}, {"sources", sources}});
  }
  return nlohmann::json{{"verification_id", "ver_1"}, {"members", members}}.dump();
}

const hfv::crypto::SecretKey& key() {
  static const hfv::crypto::SecretKey k = hfv::crypto::SecretKey::random();
  return k;
}

}  // namespace

TEST_CASE("PostgreSQL sealed columns: a report-sized JSON body is sealed compressed and opens to the same bytes",
          "[unit][store]") {
  const std::string plain = report_like();
  REQUIRE(plain.size() > 10000);
  const std::string box = pg::seal_column(key(), plain, "verifications/ver_1");
  // hex of nonce + ciphertext + tag: uncompressed it would be 2 × (size + 28).
  CHECK(box.size() * 4 < 2 * (plain.size() + 28));
  auto opened = pg::open_column(key(), box, "verifications/ver_1");
  REQUIRE(opened.ok());
  CHECK(*opened == plain);
  // Still bound to its row.
  auto moved = pg::open_column(key(), box, "verifications/ver_2");
  REQUIRE_FALSE(moved.ok());
  CHECK(moved.error().code == "corrupt_state");
}

TEST_CASE("PostgreSQL sealed columns: short values are sealed as they are and boxes from schema version 7 still open",
          "[unit][store]") {
  const std::string small = R"({"state":"done"})";
  const std::string box = pg::seal_column(key(), small, "reviews/ver_1");
  CHECK(box.size() == 2 * (small.size() + 28));
  CHECK(*pg::open_column(key(), box, "reviews/ver_1") == small);
  // Written by a broker of version 7: the whole report sealed uncompressed.
  const std::string plain = report_like();
  const std::string old_box = hfv::crypto::aes256gcm_seal_hex(key(), plain, "verifications/ver_1");
  auto opened = pg::open_column(key(), old_box, "verifications/ver_1");
  REQUIRE(opened.ok());
  CHECK(*opened == plain);
}

TEST_CASE("PostgreSQL sealed columns: a sealed frame that is malformed does not open", "[unit][store]") {
  std::string frame = zstd_compress(report_like());
  frame.resize(frame.size() / 2);  // cut short
  auto cut = pg::open_column(key(), hfv::crypto::aes256gcm_seal_hex(key(), frame, "c"), "c");
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().code == "corrupt_state");
}

TEST_CASE("zstd frames: round trip and the limits a reader sets", "[unit][store]") {
  const std::string plain = report_like();
  const std::string frame = zstd_compress(plain);
  CHECK(hfv::storage::is_zstd_frame(frame));
  CHECK_FALSE(hfv::storage::is_zstd_frame(plain));
  CHECK(zstd_decompress(frame, plain.size()) == plain);
  // Larger than the reader allows: refused from the header's size.
  CHECK_FALSE(zstd_decompress(frame, plain.size() - 1).has_value());
  // Bytes after the frame, a frame cut short, not a frame at all.
  CHECK_FALSE(zstd_decompress(frame + "x", plain.size()).has_value());
  CHECK_FALSE(zstd_decompress(frame.substr(0, frame.size() - 1), plain.size()).has_value());
  CHECK_FALSE(zstd_decompress(plain, plain.size()).has_value());
  // An empty value compresses to a frame that expands to nothing.
  CHECK(zstd_decompress(zstd_compress(""), 0) == std::string());
}
