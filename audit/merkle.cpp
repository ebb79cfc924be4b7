#include "audit/merkle.hpp"

#include <bit>

namespace hfv::audit::merkle {

namespace {

// Largest power of two strictly below n (n >= 2).
std::uint64_t split(std::uint64_t n) { return std::bit_floor(n - 1); }

void path(std::span<const Hash> d, std::uint64_t m, std::vector<Hash>& out) {
  const std::uint64_t n = d.size();
  if (n <= 1) return;
  const std::uint64_t k = split(n);
  if (m < k) {
    path(d.subspan(0, k), m, out);
    out.push_back(root(d.subspan(k)));
  } else {
    path(d.subspan(k), m - k, out);
    out.push_back(root(d.subspan(0, k)));
  }
}

void subproof(std::span<const Hash> d, std::uint64_t m, bool whole, std::vector<Hash>& out) {
  const std::uint64_t n = d.size();
  if (m == n) {
    if (!whole) out.push_back(root(d));
    return;
  }
  const std::uint64_t k = split(n);
  if (m <= k) {
    subproof(d.subspan(0, k), m, whole, out);
    out.push_back(root(d.subspan(k)));
  } else {
    subproof(d.subspan(k), m - k, false, out);
    out.push_back(root(d.subspan(0, k)));
  }
}

}  // namespace

Hash leaf_hash(std::string_view leaf_data) {
  crypto::Sha256 h;
  const std::uint8_t prefix = 0x00;
  h.update(std::span<const std::uint8_t>(&prefix, 1)).update(leaf_data);
  return h.finish();
}

Hash node_hash(const Hash& left, const Hash& right) {
  crypto::Sha256 h;
  const std::uint8_t prefix = 0x01;
  h.update(std::span<const std::uint8_t>(&prefix, 1)).update(left).update(right);
  return h.finish();
}

Hash empty_root() { return crypto::sha256(std::string_view()); }

Hash root(std::span<const Hash> leaves) {
  const std::uint64_t n = leaves.size();
  if (n == 0) return empty_root();
  if (n == 1) return leaves[0];
  const std::uint64_t k = split(n);
  return node_hash(root(leaves.subspan(0, k)), root(leaves.subspan(k)));
}

std::vector<Hash> inclusion_proof(std::span<const Hash> leaves, std::uint64_t index) {
  std::vector<Hash> out;
  if (index < leaves.size()) path(leaves, index, out);
  return out;
}

std::vector<Hash> consistency_proof(std::span<const Hash> leaves, std::uint64_t m) {
  std::vector<Hash> out;
  if (m > 0 && m < leaves.size()) subproof(leaves, m, true, out);
  return out;
}

bool verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t tree_size,
                      std::span<const Hash> proof, const Hash& root_hash) {
  if (index >= tree_size) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = tree_size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1U) != 0 || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1U) == 0) {
        while ((fn & 1U) == 0 && fn != 0) {
          fn >>= 1U;
          sn >>= 1U;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1U;
    sn >>= 1U;
  }
  return sn == 0 && r == root_hash;
}

bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& root_m, const Hash& root_n,
                        std::span<const Hash> proof) {
  if (m > n) return false;
  if (m == n) return proof.empty() && root_m == root_n;
  if (m == 0) return proof.empty();
  std::vector<Hash> p(proof.begin(), proof.end());
  // If m is an exact power of two, the old root is the first node of the path.
  if (std::has_single_bit(m)) p.insert(p.begin(), root_m);
  if (p.empty()) return false;
  std::uint64_t fn = m - 1;
  std::uint64_t sn = n - 1;
  while ((fn & 1U) != 0) {
    fn >>= 1U;
    sn >>= 1U;
  }
  Hash fr = p[0];
  Hash sr = p[0];
  for (std::size_t i = 1; i < p.size(); ++i) {
    if (sn == 0) return false;
    if ((fn & 1U) != 0 || fn == sn) {
      fr = node_hash(p[i], fr);
      sr = node_hash(p[i], sr);
      if ((fn & 1U) == 0) {
        while ((fn & 1U) == 0 && fn != 0) {
          fn >>= 1U;
          sn >>= 1U;
        }
      }
    } else {
      sr = node_hash(sr, p[i]);
    }
    fn >>= 1U;
    sn >>= 1U;
  }
  return sn == 0 && fr == root_m && sr == root_n;
}

void CompactTree::append(const Hash& leaf) {
  Hash carry = leaf;
  // Merge equal-sized perfect subtrees, like incrementing a binary counter.
  for (std::uint64_t s = size_; (s & 1U) != 0; s >>= 1U) {
    carry = node_hash(peaks_.back(), carry);
    peaks_.pop_back();
  }
  peaks_.push_back(carry);
  ++size_;
}

Hash CompactTree::root() const {
  if (peaks_.empty()) return empty_root();
  Hash r = peaks_.back();
  for (std::size_t i = peaks_.size() - 1; i-- > 0;) r = node_hash(peaks_[i], r);
  return r;
}

}  // namespace hfv::audit::merkle
