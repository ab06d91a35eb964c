#!/usr/bin/env bash
# scripts/test.sh: installs what is missing, builds and runs the whole test
# suite (unit + integration against the real daemon). Prints
# "N passed, N failed" last; exits non-zero when anything failed.
#   scripts/test.sh                 plain build in build/
#   scripts/test.sh --sanitize      ASan+UBSan build in build-asan/
#   scripts/test.sh --valgrind      unit tests under valgrind, build/
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

mode=${1:-plain}
case "$mode" in
plain)      raterd_install_deps; dir=build; raterd_build "$dir"; wrap=() ;;
--sanitize) raterd_install_deps; dir=build-asan
            raterd_build "$dir" -Db_sanitize=address,undefined -Db_lundef=false; wrap=() ;;
--valgrind) raterd_install_deps valgrind; dir=build; raterd_build "$dir"
            wrap=(--suite unit --wrap='valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 -q') ;;
*)          echo "usage: $0 [--sanitize|--valgrind]" >&2; exit 2 ;;
esac

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
rc=0
# meson names the log after the wrapper (testlog-valgrind.json): count the
# one this run writes, never a stale one.
rm -f "$dir"/meson-logs/testlog*.json
meson test -C "$dir" --print-errorlogs --num-processes 2 "${wrap[@]}" || rc=$?
log=$(ls -t "$dir"/meson-logs/testlog*.json 2>/dev/null | head -n 1)
python3 - "${log:-/dev/null}" <<'PY' || true
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): ok += 1
    elif r != "SKIP": bad += 1
print(f"{ok} passed, {bad} failed")
PY
exit $rc
