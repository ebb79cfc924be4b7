// RFC 6962 / RFC 9162 Merkle tree hashing over a log's leaves: domain-
// separated leaf and node hashes (leaf = SHA-256(0x00 || data), node =
// SHA-256(0x01 || left || right)), tree roots, inclusion and consistency
// proofs and their verification. Pure functions over in-memory leaf hashes,
// plus CompactTree, which keeps only the right edge of a growing tree
// (O(log n) hashes) so an appender knows the current root cheaply.
// Thread-safety: functions are thread-safe; a CompactTree is a plain value.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/hash.hpp"

namespace hfv::audit::merkle {

using Hash = crypto::Digest;

Hash leaf_hash(std::string_view leaf_data);
Hash node_hash(const Hash& left, const Hash& right);
// Root of the empty tree: SHA-256 of nothing.
Hash empty_root();

// MTH(D[0:n]) for the leaf hashes given.
Hash root(std::span<const Hash> leaves);

// PATH(index, D[0:n]): the audit path of leaf `index` (< leaves.size()).
std::vector<Hash> inclusion_proof(std::span<const Hash> leaves, std::uint64_t index);
// PROOF(m, D[0:n]) with n = leaves.size(), 0 < m <= n.
std::vector<Hash> consistency_proof(std::span<const Hash> leaves, std::uint64_t m);

// RFC 9162 section 2.1.3.2.
bool verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t tree_size,
                      std::span<const Hash> proof, const Hash& root);
// RFC 9162 section 2.1.4.2. m == n needs an empty proof and equal roots.
bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& root_m, const Hash& root_n,
                        std::span<const Hash> proof);

// The right edge of a tree built by appending leaves one at a time.
class CompactTree {
 public:
  void append(const Hash& leaf);
  std::uint64_t size() const { return size_; }
  Hash root() const;  // empty_root() when size() == 0

 private:
  std::vector<Hash> peaks_;  // perfect subtrees, largest first; one per set bit of size_
  std::uint64_t size_ = 0;
};

}  // namespace hfv::audit::merkle
