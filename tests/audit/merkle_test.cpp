#include <catch2/catch.hpp>

#include "audit/merkle.hpp"
#include "crypto/hash.hpp"

namespace merkle = hfv::audit::merkle;

namespace {

std::vector<merkle::Hash> leaves(std::size_t n) {
  std::vector<merkle::Hash> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(merkle::leaf_hash("leaf " + std::to_string(i)));
  return out;
}

}  // namespace

TEST_CASE("audit: Merkle hashes are domain-separated as in RFC 6962", "[audit][merkle]") {
  // RFC 6962 test vector: the empty tree, and a leaf of zero bytes.
  CHECK(hfv::crypto::to_hex(merkle::empty_root()) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hfv::crypto::to_hex(merkle::leaf_hash("")) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const auto a = merkle::leaf_hash("a");
  const auto b = merkle::leaf_hash("b");
  CHECK(merkle::node_hash(a, b) !=
        merkle::leaf_hash(std::string(a.begin(), a.end()) + std::string(b.begin(), b.end())));
}

TEST_CASE("audit: CompactTree roots equal full tree roots at every size", "[audit][merkle]") {
  const auto all = leaves(70);
  merkle::CompactTree t;
  CHECK(t.root() == merkle::empty_root());
  for (std::size_t n = 1; n <= all.size(); ++n) {
    t.append(all[n - 1]);
    CHECK(t.root() == merkle::root(std::span(all).first(n)));
  }
}

TEST_CASE("audit: Inclusion proofs verify and fail when anything changes", "[audit][merkle]") {
  const auto all = leaves(37);
  for (std::size_t n = 1; n <= all.size(); ++n) {
    const auto tree = std::span(all).first(n);
    const auto r = merkle::root(tree);
    for (std::size_t i = 0; i < n; ++i) {
      const auto proof = merkle::inclusion_proof(tree, i);
      REQUIRE(merkle::verify_inclusion(all[i], i, n, proof, r));
      if (n > 1) {
        CHECK_FALSE(merkle::verify_inclusion(all[(i + 1) % n], i, n, proof, r));
        CHECK_FALSE(merkle::verify_inclusion(all[i], (i + 1) % n, n, proof, r));
      }
    }
  }
}

TEST_CASE("audit: Consistency proofs verify between every pair of sizes", "[audit][merkle]") {
  const auto all = leaves(33);
  for (std::size_t n = 1; n <= all.size(); ++n) {
    const auto rn = merkle::root(std::span(all).first(n));
    for (std::size_t m = 1; m <= n; ++m) {
      const auto rm = merkle::root(std::span(all).first(m));
      const auto proof = merkle::consistency_proof(std::span(all).first(n), m);
      REQUIRE(merkle::verify_consistency(m, n, rm, rn, proof));
      if (m < n) {
        auto other = all;
        other[m - 1] = merkle::leaf_hash("changed");
        const auto bad_rm = merkle::root(std::span(other).first(m));
        CHECK_FALSE(merkle::verify_consistency(m, n, bad_rm, rn, proof));
      }
    }
  }
}
