#!/usr/bin/env bash
# scripts/check-includes against small made-up checkouts: it passes a tree
# that keeps the rules and fails, naming file and line, on each kind of
# forbidden include; and it passes this checkout.
#   check_includes_test.sh SOURCE_DIR
set -uo pipefail
src="$1"
check="$src/scripts/check-includes"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

# A checkout with two libraries and three broker folders.
make_tree() {
  rm -rf "$work/t"
  mkdir -p "$work/t/common" "$work/t/crypto" "$work/t/broker/api" "$work/t/broker/store" "$work/t/broker/ops"
  printf '# t\n```rules\ncommon:\ncrypto: common\nbroker: common crypto\n```\n' >"$work/t/README.md"
  printf '# broker\n```rules\napi: store ops\nstore: ops\nops:\n```\n```exceptions\nops/log.hpp -> store/db.hpp   until the log has its own\n```\n' \
    >"$work/t/broker/README.md"
  printf '#include "common/result.hpp"\n' >"$work/t/crypto/hash.hpp"
  printf '#include "broker/store/db.hpp"\n#include "broker/ops/log.hpp"\n#include "crypto/hash.hpp"\n' >"$work/t/broker/api/server.cpp"
  printf '#include "broker/ops/log.hpp"\n' >"$work/t/broker/store/db.hpp"
  printf '#include "broker/store/db.hpp"\n#include <string>\n' >"$work/t/broker/ops/log.hpp"
}

# expect EXIT_CODE TEXT_THE_OUTPUT_MUST_HOLD DESCRIPTION
expect() {
  local want="$1" text="$2" what="$3" out rc
  out="$("$check" "$work/t" 2>&1)"
  rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
    echo "FAIL: $what: exit $rc (wanted $want), output:"
    echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: $what"
  fi
}

make_tree
expect 0 "every include follows the rules" "a tree that keeps the rules passes"

make_tree
printf '#include "broker/api/server.hpp"\n' >>"$work/t/broker/store/db.hpp"
expect 1 "broker/store/db.hpp:2: broker/store/ may not include broker/api/server.hpp" \
  "a lower broker folder including a higher one fails"

make_tree
printf '#include "broker/ops/log.hpp"\n' >"$work/t/crypto/bad.cpp"
expect 1 "crypto/bad.cpp:1: crypto may not include broker/ops/log.hpp" \
  "a library including broker/ fails"

make_tree
printf '#include "broker/ops/log.hpp"\n' >"$work/t/broker/loose.cpp"
expect 1 "broker/loose.cpp: broker/README.md has no rule for this folder" \
  "a file outside every broker folder fails"

make_tree
mkdir -p "$work/t/broker/extra" && printf '\n' >"$work/t/broker/extra/x.cpp"
expect 1 "broker/extra/x.cpp: broker/README.md has no rule for this folder" \
  "a broker folder without a rule fails"

make_tree
printf '#include <string>\n' >"$work/t/broker/ops/log.hpp"
expect 1 "the exception ops/log.hpp -> store/db.hpp matches no include any more" \
  "an exception nothing needs any more fails"

make_tree
mkdir -p "$work/t/tests" && printf '#include "broker/api/server.hpp"\n' >"$work/t/tests/t.cpp"
expect 0 "every include follows the rules" "tests may include anything"

# This checkout keeps its own rules.
if out="$("$check" "$src" 2>&1)"; then
  echo "ok: this checkout keeps the rules"
else
  echo "FAIL: this checkout breaks the rules:"
  echo "$out"
  failures=$((failures + 1))
fi

[ "$failures" -eq 0 ]
