#!/usr/bin/env bash
# `make test`: every phase from a fresh clone to the last test, each one timed.
#   environment      .venv with the pinned packages (`make setup`; nothing to do when it is current)
#   system packages  chromium and bubblewrap (tools/system-packages.sh)
#   tests            the whole pytest suite on two workers; the tests that open the built book
#                    share one worker (--dist loadgroup), so the other never waits on the build
# Stops at the first phase that fails; prints the time of each phase at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# Offline and reproducible, on a laptop as in CI: no hub downloads, no display, fixed hash seed.
export MPLBACKEND=Agg PYTHONHASHSEED=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
MAKE=${MAKE:-make}
summary=()

phase() {
    local name=$1; shift
    local start=$SECONDS
    echo "== $name"
    "$@"
    local rc=$?
    summary+=("$(printf '%-17s %4ds%s' "$name" $((SECONDS - start)) "$([ $rc -eq 0 ] || echo "  (failed, exit $rc)")")")
    if [ $rc -ne 0 ]; then report; exit $rc; fi
}

report() {
    echo "== time of each phase"
    printf '   %s\n' "${summary[@]}"
    printf '   %-17s %4ds\n' "all" "$SECONDS"
}

phase "environment" "$MAKE" --no-print-directory setup
phase "system packages" bash tools/system-packages.sh
phase "tests" "$PY" -m pytest -n 2 --dist loadgroup --durations=15 "$@"
report
