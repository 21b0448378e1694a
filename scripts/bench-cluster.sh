#!/usr/bin/env bash
# The cluster benchmarks of docs/benchmarks.md: Kanna and the hashicorp/raft peer
# (tests/peers/hashiraft), consensus alone and the whole service, each printing one JSON line.
# The systems alternate within each round (kanna, peer, kanna, peer) so that both see the same
# load from whatever else runs on the machine; ROUNDS repeats the whole sequence. In the whole
# service both systems' players call on the same client path: Game.Play streams (the default of
# both benches), or one unary call per op when the flags hold --client-path unary.
#   scripts/bench-cluster.sh [ROUNDS] [bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
shift || true
flags=("$@")
if [ ${#flags[@]} -eq 0 ]; then
  flags=(--nodes 3 --clients 64 --duration 10s --payload 16)
fi
go=${GO:-go}
mkdir -p bin
$go build -o bin/kanna ./cmd/kanna
(cd tests/peers/hashiraft && $go build -o ../../../bin/hashiraft .)
# Each bench's progress goes to a log rather than the terminal; a bench that fails has its last
# lines printed, so that the reason is not lost with the progress.
log=bin/bench-cluster.log
: >"$log"
trap 'echo "bench-cluster: a bench failed; the end of $log:" >&2; tail -n 20 "$log" >&2' ERR
echo "# $(uptime)" >&2
echo "# progress of each bench: $log" >&2
for ((r = 1; r <= rounds; r++)); do
  bin/kanna bench --inprocess "${flags[@]}" --json 2>>"$log"
  bin/hashiraft --mode consensus "${flags[@]}" 2>>"$log"
  bin/kanna bench "${flags[@]}" --json 2>>"$log"
  bin/hashiraft --mode service "${flags[@]}" 2>>"$log"
  echo "# round $r done: $(uptime)" >&2
done
