#!/usr/bin/env bash
# scripts/demo.sh: installs what is missing, builds, starts raterd on its
# embedded defaults (an empty config file) and feeds it a short stream of
# feedback so you can watch the indices move in raterctl.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
raterd_install_deps
raterd_build build >/dev/null

work=$(mktemp -d)
conf=$work/raterd.conf
: >"$conf"                          # empty: every key at its default
if [ "$(id -u)" -ne 0 ]; then       # the default control socket lives in /run/raterd
        printf '[daemon]\ncontrol = ipc://%s/control\n' "$work" >"$conf"
fi
export RATERD_CONTROL
RATERD_CONTROL=$( [ -s "$conf" ] && echo "ipc://$work/control" || echo "ipc:///run/raterd/control")

build/daemon/raterd --config "$conf" --state-dir "$work/state" 2>"$work/raterd.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do build/clients/raterctl -t 1 status >/dev/null 2>&1 && break; sleep 0.1; done

# feed TEAM N SCORE_LOW SCORE_HIGH: N feedback events with scores in a range
seq_id=0
feed() {
        local team=$1 n=$2 lo=$3 hi=$4 i s
        for ((i = 0; i < n; i++)); do
                s=$((lo + RANDOM % (hi - lo + 1)))
                seq_id=$((seq_id + 1))
                printf '{"kind":"feedback","id":"demo-%s-%d","team":"%s","agent":"%s-agent%d","channel":"chat","score":%d,"nps":%d,"rater":{"reliability":%d,"responsiveness":%d,"empathy":%d}}\n' \
                        "$$" "$seq_id" "$team" "$team" $((i % 3)) "$s" $((s * 2)) "$s" "$s" "$s"
        done
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "raterd is up: raterctl status"
build/clients/raterctl status

step "40 happy customers of team billing, 40 of team support (reliable ingest)"
{ feed billing 40 4 5; feed support 40 4 5; } | build/clients/rater-pub --reliable
build/clients/raterctl get --scope team:billing --window 5m

step "billing has a bad afternoon: 60 unhappy customers (fire-and-forget ingest)"
feed billing 60 1 2 | build/clients/rater-pub
sleep 0.5
build/clients/raterctl get --scope team:billing --window 5m

step "who is worst right now? raterctl top satisfaction --by team"
build/clients/raterctl top satisfaction --by team --window 5m
step "and by agent, as JSON"
build/clients/raterctl --json top csat --by agent --window 5m -n 3

step "stopping raterd (SIGTERM drains, commits and exits 0)"
kill -TERM $pid; wait $pid && echo "raterd exited 0"
trap 'rm -rf "$work"' EXIT
