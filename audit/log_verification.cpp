// verify_log_file (log_verification.hpp): on SQLCipher the file's pages
// first (before SQLite reads anything, so that a damaged file is reported
// as such even when it cannot be opened), then rows, stored heads and the
// anchor; every record problem found is kept with the sequence number it
// starts at and the smallest is reported.
#include "audit/log_verification.hpp"

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "audit/keyring.hpp"
#include "audit/merkle.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit {

Result<ChainReport> verify_log_file(const std::filesystem::path& path, const crypto::SecretKey& kek,
                                    const std::filesystem::path& anchor_file,
                                    const LogSchema& schema, const LeafCheck& check) {
  return verify_log_at(LogLocation::sqlcipher(path), kek, anchor_file, schema, check);
}

namespace {

// Every page of the SQLCipher file, with the key the keyring names; while a
// data-key rotation is recorded but unfinished, the file may be under the
// next key: whichever authenticates page 1 is the file's.
Result<storage::PageCheckReport> check_pages(const std::filesystem::path& file,
                                             const crypto::SecretKey& kek) {
  auto keys = Keyring::load(keyring_path(file), kek);
  if (!keys) return keys.error();
  auto pages = storage::authenticate_pages(file, keys->db_key);
  if (!pages || pages->first_bad_page != 1 || !keys->next_db_key) return pages;
  auto next = storage::authenticate_pages(file, *keys->next_db_key);
  if (next && next->first_bad_page != 1) return next;
  return pages;
}

}  // namespace

Result<ChainReport> verify_log_at(const LogLocation& where, const crypto::SecretKey& kek,
                                  const std::filesystem::path& anchor_file,
                                  const LogSchema& schema, const LeafCheck& check) {
  std::optional<storage::PageCheckReport> pages;
  if (!where.is_postgresql()) {
    auto checked = check_pages(where.file, kek);
    if (!checked) return checked.error();
    pages = std::move(*checked);
  }
  Keyring keyring;
  auto db = open_log_for_check(where, kek, schema, keyring);
  if (!db) {
    // A file too damaged to open: the pages say where.
    if (pages && !pages->ok()) {
      ChainReport damaged;
      damaged.ok = false;
      damaged.problem = pages->problem;
      damaged.pages = std::move(pages);
      return damaged;
    }
    return db.error();
  }
  ChainReport report;
  report.pages = std::move(pages);
  std::vector<std::pair<std::int64_t, std::string>> problems;  // (first bad seq, what)
  std::int64_t row_bad = 0;
  auto row_problem = [&](std::int64_t seq, std::string what) {
    if (row_bad == 0) {
      row_bad = seq;
      problems.emplace_back(seq, std::move(what));
    }
  };

  // Rows: present, hashed as stored, contents as the personality expects.
  std::vector<merkle::Hash> leaves;
  std::int64_t expected = 1;
  auto rows = (*db)->for_each_row([&](const LeafRow& row) {
    ++report.records;
    if (row.seq != expected)
      row_problem(expected, "record " + std::to_string(expected) + " is missing");
    expected = row.seq + 1;
    const merkle::Hash leaf = merkle::leaf_hash(row.envelope);
    leaves.push_back(leaf);
    if (row_bad != 0) return;
    if (!row.problem.empty()) {
      row_problem(row.seq, row.problem);
      return;
    }
    if (crypto::to_hex(leaf) != row.leaf_hash) {
      row_problem(row.seq, "record hash does not match its contents");
      return;
    }
    if (std::string problem = check(row); !problem.empty())
      row_problem(row.seq, std::move(problem));
  });
  // A read error on a file with a damaged page: the page explains it.
  auto damaged = [&](const Error& error) -> Result<ChainReport> {
    if (!report.pages || report.pages->ok()) return error;
    report.ok = false;
    report.problem = report.pages->problem;
    return report;
  };
  if (!rows) return damaged(rows.error());

  // Signed heads stored in the database, then the anchor: each must match
  // the tree recomputed from the records' contents.
  auto heads = (*db)->load_heads(std::nullopt);
  if (!heads) return damaged(heads.error());
  {
    merkle::CompactTree t;
    std::int64_t last_good = 0;
    const KeyHistory& keys = keyring.key_history();
    for (const auto& h : *heads) {
      if (!keys.verifies(h)) {
        problems.emplace_back(
            last_good + 1,
            "the signed tree head of size " + std::to_string(h.tree_size) + " has a bad signature");
        break;
      }
      if (h.tree_size > leaves.size()) {
        problems.emplace_back(static_cast<std::int64_t>(leaves.size()) + 1,
                              "a signed tree head covers " + std::to_string(h.tree_size) +
                                  " records but only " + std::to_string(leaves.size()) +
                                  " are present");
        break;
      }
      while (t.size() < h.tree_size) t.append(leaves[t.size()]);
      // A record already found bad inside this head explains the mismatch
      // more precisely than the head can.
      if (t.root() != h.root && row_bad != 0 && row_bad <= static_cast<std::int64_t>(h.tree_size))
        break;
      if (t.root() != h.root) {
        problems.emplace_back(last_good + 1, "records " + std::to_string(last_good + 1) + ".." +
                                                 std::to_string(h.tree_size) +
                                                 " do not match the signed tree head of size " +
                                                 std::to_string(h.tree_size));
        break;
      }
      last_good = static_cast<std::int64_t>(h.tree_size);
      ++report.heads_checked;
    }
    if (!heads->empty()) report.latest_head = heads->back();
  }
  if (!anchor_file.empty()) {
    auto anchor = read_anchor(anchor_file);
    if (!anchor) return anchor.error();
    if (*anchor) {
      report.anchor_checked = true;
      const SignedTreeHead& a = **anchor;
      if (!keyring.key_history().verifies(a)) {
        problems.emplace_back(1,
                              "the anchor file's signed head does not verify with this log's keys");
      } else if (a.tree_size > leaves.size()) {
        problems.emplace_back(static_cast<std::int64_t>(leaves.size()) + 1,
                              "rolled back: the anchor holds a signed head of " +
                                  std::to_string(a.tree_size) + " records, the database " +
                                  std::to_string(leaves.size()));
      } else if (merkle::root(std::span(leaves).first(a.tree_size)) != a.root &&
                 !(row_bad != 0 && row_bad <= static_cast<std::int64_t>(a.tree_size))) {
        problems.emplace_back(1, "the database does not match the anchored signed head of size " +
                                     std::to_string(a.tree_size));
      }
    }
  }
  // Signing-key transitions (their signatures were checked when the keyring
  // was read): each must be a head of this log's records.
  for (const auto& t : keyring.history.transitions) {
    if (t.tree_size > leaves.size()) {
      problems.emplace_back(static_cast<std::int64_t>(leaves.size()) + 1,
                            "a signing-key transition covers " + std::to_string(t.tree_size) +
                                " records but only " + std::to_string(leaves.size()) + " are present");
    } else if (merkle::root(std::span(leaves).first(t.tree_size)) != t.root &&
               !(row_bad != 0 && row_bad <= static_cast<std::int64_t>(t.tree_size))) {
      problems.emplace_back(1, "the records do not match the signing-key transition at " +
                                   std::to_string(t.tree_size) + " records");
    }
  }
  merkle::CompactTree all;
  for (const auto& leaf : leaves) all.append(leaf);
  report.head_hash = crypto::to_hex(all.root());
  if (!problems.empty()) {
    auto first = std::min_element(problems.begin(), problems.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    report.ok = false;
    report.first_bad_seq = first->first;
    report.problem = first->second;
  }
  if (report.pages && !report.pages->ok()) {
    report.ok = false;
    if (report.problem.empty()) report.problem = report.pages->problem;
  }
  return report;
}

Result<merkle::Hash> root_at_size(const LogLocation& where, const crypto::SecretKey& kek,
                                  const LogSchema& schema, std::uint64_t size) {
  Keyring keyring;
  auto db = open_log_for_check(where, kek, schema, keyring);
  if (!db) return db.error();
  auto leaves = (*db)->load_leaves(0, static_cast<std::int64_t>(size));
  if (!leaves) return leaves.error();
  if (leaves->size() != size) {
    return make_error("not_found", "the log holds " + std::to_string(leaves->size()) +
                                       " records, fewer than " + std::to_string(size));
  }
  return merkle::root(*leaves);
}

}  // namespace hfv::audit
