#!/usr/bin/env bash
# Produces the "Measurements" tables of docs/gossip.md from the gossip-only simulator
# (tests/sim/gossipsim, `kanna sim --gossip-only`). Every run is deterministic: the same binary
# prints the same numbers. Runs two at a time; about 15 minutes on a busy two-core machine, most of
# it the N=1000 runs. Runs already in the output directory are not run again.
#   scripts/gossip-table.sh [output-dir]     (default: a temporary directory, kept)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
go build -o "$out/kanna" ./cmd/kanna

# One line per run: name, then the flags. "probing" counts ping, ack, ping-req and nack: SWIM's
# failure detector, whose cost per member §3.1 says is constant in N; the rest is dissemination. All runs: 300 s simulated, the last member crashes at
# 60 s, faults (loss, pauses) last until 210 s, messages are counted from 120 s.
jobs=()
for n in 5 50 500 1000; do
  for lg in true false; do
    for loss in 0 0.05 0.1 0.2; do
      jobs+=("n$n-lg$lg-loss$loss --members $n --lifeguard=$lg --loss $loss")
    done
    jobs+=("n$n-lg$lg-pause --members $n --lifeguard=$lg --pause")
    jobs+=("n$n-lg$lg-longpause --members $n --lifeguard=$lg --pause --pause-for 15s --pause-every 20s")
  done
done
# Detection at memberlist's anchor sizes, over 20 seeds.
for n in 3 8 16; do
  for seed in $(seq 1 20); do
    jobs+=("det-n$n-s$seed --members $n --seed $seed --duration 100s --faults-end 100s --warmup 60s")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} bash -c '
  set -- {}; name=$1; shift
  [ -s "'"$out"'/$name.json" ] || "'"$out"'/kanna" sim --gossip-only --json "$@" > "'"$out"'/$name.json" || true'

fmt='def s: if . == null then "never" else (. * 10 | round / 10 | tostring) end;'
echo "| N | faults | Lifeguard | first detect (s) | all detect (s) | dead news to all (periods) | msgs/member/s: all (probing) | false positives: members (declarations) | paused member declared dead | violations |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in 5 50 500 1000; do
  for f in loss0 loss0.05 loss0.1 loss0.2 pause longpause; do
    for lg in true false; do
      case $f in
        pause) label="one member paused 6 s in every 8 s" ;;
        longpause) label="one member paused 15 s in every 20 s" ;;
        *) label="$(jq -r '.loss * 100 | round | tostring + "% loss"' "$out/n$n-lg$lg-$f.json")" ;;
      esac
      jq -r --arg faults "$label" "$fmt"' "| \(.members) | \($faults) | \(if .lifeguard then "on" else "off" end) | \(.first_detect_s|s) | \(.all_detect_s|s) | \(.dissemination_periods|s) | \(.msgs_per_member_per_s*100|round/100) (\(([.msgs_by_type.ping, .msgs_by_type.ack, .msgs_by_type["ping-req"], .msgs_by_type.nack] | map(. // 0) | add) / .members / (.sim_seconds - 120) * 100 | round / 100)) | \(.false_positives) (\(.false_positive_events)) | \(.paused_declared_dead) | \(.violation_count) |"' "$out/n$n-lg$lg-$f.json"
    done
  done
done
echo
echo "| N | runs | first detect, mean / max (s) | all detect, mean / max (s) |"
echo "|---|---|---|---|"
for n in 3 8 16; do
  cat "$out"/det-n$n-s*.json | jq -s -r '"| \(.[0].members) | \(length) seeds | \((map(.first_detect_s)|add/length*10|round/10)) / \((map(.first_detect_s)|max*10|round/10)) | \((map(.all_detect_s)|add/length*10|round/10)) / \((map(.all_detect_s)|max*10|round/10)) |"'
done
echo
echo "raw results: $out"
