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

# feed TEAM N SCORE_LOW SCORE_HIGH: N feedback events with scores in a range.
# Each runs in a pipeline's subshell: ids carry the call's arguments to stay
# unique (a repeated id would be a duplicate and change nothing).
feed() {
        local team=$1 n=$2 lo=$3 hi=$4 i s
        for ((i = 0; i < n; i++)); do
                s=$((lo + RANDOM % (hi - lo + 1)))
                printf '{"kind":"feedback","id":"demo-%s-%s-%d%d-%d","team":"%s","agent":"%s-agent%d","channel":"chat","score":%d,"nps":%d,"rater":{"reliability":%d,"responsiveness":%d,"empathy":%d}}\n' \
                        "$$" "$team" "$lo" "$hi" "$i" "$team" "$team" $((i % 3)) "$s" $((s * 2)) "$s" "$s" "$s"
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

# tickets TEAM N REPLY_S: N tickets opened 20 min ago, answered after REPLY_S
# seconds (about), half of them resolved
tickets() {
        local team=$1 n=$2 reply=$3 i now t
        now=$(($(date +%s) * 1000))
        for ((i = 0; i < n; i++)); do
                t=$((now - 1200000 + i * 1000))
                printf '{"kind":"ticket","id":"demo-%s-%s-%d-o","ticket":"%s-%d","status":"opened","ts":%d,"team":"%s","priority":"urgent"}\n' "$$" "$team" "$i" "$team" "$i" "$t" "$team"
                printf '{"kind":"ticket","id":"demo-%s-%s-%d-r","ticket":"%s-%d","status":"responded","ts":%d,"team":"%s"}\n' "$$" "$team" "$i" "$team" "$i" $((t + (reply + RANDOM % 60) * 1000)) "$team"
                if ((i % 2)); then
                        printf '{"kind":"ticket","id":"demo-%s-%s-%d-x","ticket":"%s-%d","status":"resolved","ts":%d,"team":"%s"}\n' "$$" "$team" "$i" "$team" "$i" $((t + (reply + 120) * 1000)) "$team"
                fi
        done
}

step "tickets: support answers in about a minute, billing in about 17 (urgent SLA is 15m)"
{ tickets support 20 30; tickets billing 20 1000; } | build/clients/rater-pub --reliable
build/clients/raterctl get --scope team:billing --window 1h tickets_opened frt_p50 frt_p90 sla_compliance sla_breaches backlog service_index grade

step "who is worst right now? raterctl top satisfaction --by team"
build/clients/raterctl top satisfaction --by team --window 5m
step "slowest first response by team, over several windows"
build/clients/raterctl top frt_p90 --by team --window 1h
build/clients/raterctl get --scope all --window 5m,1h,7d feedback_count tickets_opened sla_compliance service_index

step "and by agent, as JSON"
build/clients/raterctl --json top csat --by agent --window 5m -n 3

step "stopping raterd (SIGTERM drains, commits and exits 0)"
kill -TERM $pid; wait $pid && echo "raterd exited 0"
trap 'rm -rf "$work"' EXIT
