#!/usr/bin/env bash
# scripts/test.sh: installs what is missing, builds and runs the whole test
# suite (unit + integration against the real daemon). Prints
# "N passed, N failed" last; exits non-zero when anything failed.
#   scripts/test.sh                 plain build in build/
#   scripts/test.sh --sanitize      ASan+UBSan build in build-asan/
#   scripts/test.sh --valgrind      unit tests, then the integration suite with
#                                   raterd, under valgrind, build/
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

mode=${1:-plain}
VALGRIND="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
case "$mode" in
plain)      raterd_install_deps; dir=build; raterd_build "$dir"; wrap=() ;;
--sanitize) raterd_install_deps; dir=build-asan
            raterd_build "$dir" -Db_sanitize=address,undefined -Db_lundef=false; wrap=() ;;
--valgrind) raterd_install_deps valgrind; dir=build; raterd_build "$dir"
            wrap=(--suite unit --wrap="$VALGRIND") ;;
*)          echo "usage: $0 [--sanitize|--valgrind]" >&2; exit 2 ;;
esac

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
rc=0
# meson names the log after the wrapper (testlog-valgrind.json): count the
# logs this run writes, never a stale one.
rm -f "$dir"/meson-logs/testlog*.json
meson test -C "$dir" --print-errorlogs --num-processes 2 "${wrap[@]}" || rc=$?
if [ "$mode" = --valgrind ]; then
        # The integration suite with the real daemon under valgrind: any
        # memory error or definite leak makes its exit code (checked by every
        # test's stop) non-zero.
        RATERD_WRAPPER="$VALGRIND" meson test -C "$dir" --print-errorlogs --num-processes 2 --suite integration || rc=$?
fi
python3 - "$dir"/meson-logs/testlog*.json <<'PY' || true
import json, sys
ok = bad = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).readlines()
    except OSError:
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): ok += 1
        elif r != "SKIP": bad += 1
print(f"{ok} passed, {bad} failed")
PY
exit $rc
