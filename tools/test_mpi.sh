#!/usr/bin/env bash
# Data-parallel finetune and eval under mpirun (issue 15, docs/mpi.md), against one process:
#   bash tools/test_mpi.sh MPI_BINARY [PLAIN_BINARY]
# MPI_BINARY is treerpo built with TREERPO_MPI=1; PLAIN_BINARY, one built without (optional).
# Checks, on the bundled model with two ranks of one thread (oversubscribed on a small machine):
#  - TreeRPO (group and batch normalisation) and plain GRPO: final weights and AdamW state
#    byte-identical to one process of two threads, metrics equal but for timings; TreeRPO on
#    three ranks as one process of three threads;
#  - a 2-rank run resumed from its step-2 checkpoint as 1 process and as 2 ranks ends as the
#    uninterrupted run; eval over 2 ranks prints what one process prints;
#  - a killed rank ends the job non-zero within 60 s, the last checkpoint intact; a stopped
#    (hung) rank ends it through --mpi-timeout; ranks with other arguments are refused; a binary
#    built without MPI refuses to run as one of several ranks;
#  - two "hosts": rank 1 in a network namespace of its own, started through mpirun's remote
#    launcher (an ssh stand-in that enters the namespace) and reached over TCP only, trains the
#    same weights as one process (needs root for `ip netns`; reported as skipped otherwise).
# Each failure names the check; tools/test.sh runs this after building both binaries.
set -euo pipefail
bin=$(realpath "$1")
plain=${2:+$(realpath "$2")}
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # CI runs as root
# Open MPI's shared-memory transport wants /dev/shm space; no network interface is needed.
mpi=(mpirun --oversubscribe --bind-to none -np 2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ws="$work/ws"
"$bin" import models/arith-qwen2-1m/model.onnx --workspace "$ws" --replace >/dev/null
# Enough micro-batches per step (at least 2 per rank) that both ranks train: one process of two
# threads then deals them out exactly as two ranks do.
common=(--workspace "$ws" --task arithmetic --steps 4 --prompts-per-step 16 --micro-batch-tokens 256
        --checkpoint-every 2 --keep-checkpoints 2 --eval-every 2 --eval-questions 8 --eval-samples 2 --json)
fail() { echo "test_mpi: FAILED: $*" >&2; exit 1; }

same_run() {  # RUN_A RUN_B WHAT: weights, optimiser state and metrics (not timings) equal
  local a="$ws/runs/$1" b="$ws/runs/$2"
  cmp -s "$a/checkpoints/step-00000004/model.safetensors" "$b/checkpoints/step-00000004/model.safetensors" \
    || fail "$3: final weights of $1 and $2 differ"
  cmp -s "$a/checkpoints/step-00000004/optimizer.safetensors" "$b/checkpoints/step-00000004/optimizer.safetensors" \
    || fail "$3: final AdamW state of $1 and $2 differs"
  python3 - "$a/metrics.jsonl" "$b/metrics.jsonl" "$3" <<'PY' || exit 1
import json, sys
def load(p):
    return [{k: v for k, v in json.loads(l).items() if not k.startswith(("seconds", "exchange_"))} for l in open(p)]
a, b = load(sys.argv[1]), load(sys.argv[2])
if len(a) != 4 or a != b:
    diff = [(x["step"], {k: (x[k], y.get(k)) for k in x if x[k] != y.get(k)}) for x, y in zip(a, b) if x != y]
    sys.exit(f"test_mpi: FAILED: {sys.argv[3]}: metrics differ ({len(a)} and {len(b)} lines): {diff[:2]}")
PY
  echo "test_mpi: ok: $3"
}

for variant in "treerpo:--preset treerpo" "batch:--preset treerpo --advantage-norm batch" "grpo:--preset grpo-plain --group-size 4"; do
  name=${variant%%:*}; read -r -a options <<<"${variant#*:}"
  "$bin" finetune "${common[@]}" "${options[@]}" --run "$name-1" --threads 2 >/dev/null 2>"$work/err" || { cat "$work/err"; fail "$name: one process"; }
  "${mpi[@]}" "$bin" finetune "${common[@]}" "${options[@]}" --run "$name-2" --threads 1 >/dev/null 2>"$work/err" \
    || { cat "$work/err"; fail "$name: two ranks"; }
  grep -q "2 ranks of 1 thread" "$work/err" || fail "$name: rank 0 did not report the two ranks"
  same_run "$name-1" "$name-2" "$name, 2 ranks x 1 thread = 1 process x 2 threads"
done

# Three ranks: float addition is not associative, so this checks the order of the sum itself
# (((g0 + g1) + g2), as one process of three threads adds its workers' gradients).
# 128-token micro-batches: at least 6 per step, so that both sides deal them out (with fewer,
# one process trains on one worker of three threads, and its products round otherwise).
"$bin" finetune "${common[@]}" --micro-batch-tokens 128 --preset treerpo --run three-1 --threads 3 >/dev/null 2>"$work/err" || { cat "$work/err"; fail "three threads"; }
mpirun --oversubscribe --bind-to none -np 3 "$bin" finetune "${common[@]}" --micro-batch-tokens 128 --preset treerpo --run three-3 --threads 1 >/dev/null 2>"$work/err" \
  || { cat "$work/err"; fail "three ranks"; }
same_run three-1 three-3 "3 ranks x 1 thread = 1 process x 3 threads"
# The exchange itself, on a size that does not split evenly; it checks its sums bit for bit.
mpirun --oversubscribe --bind-to none -np 3 "$bin" bench exchange --floats 1000003 --rounds 1 --threads 1 >"$work/bench" 2>&1 \
  || { cat "$work/bench"; fail "bench exchange on 3 ranks"; }
echo "test_mpi: ok: the rank-ordered sum of 3 ranks is exact (bench exchange)"

# Resume: treerpo-2 stopped after its step-2 checkpoint (what a kill leaves), continued as 2 ranks and as 1.
for resumed in resume-as-2 resume-as-1; do
  mkdir -p "$ws/runs/$resumed/checkpoints"
  cp "$ws/runs/treerpo-2/config.json" "$ws/runs/treerpo-2/metrics.jsonl" "$ws/runs/$resumed/"
  cp -r "$ws/runs/treerpo-2/checkpoints/step-00000002" "$ws/runs/$resumed/checkpoints/"
done
"${mpi[@]}" "$bin" finetune --workspace "$ws" --run resume-as-2 --resume --threads 1 --json >/dev/null 2>"$work/err" \
  || { cat "$work/err"; fail "resume as 2 ranks"; }
"$bin" finetune --workspace "$ws" --run resume-as-1 --resume --threads 2 --json >/dev/null 2>"$work/err" \
  || { cat "$work/err"; fail "resume as 1 process"; }
same_run treerpo-2 resume-as-2 "a 2-rank run resumed as 2 ranks ends as the uninterrupted run"
same_run treerpo-2 resume-as-1 "a 2-rank run resumed as 1 process of 2 threads ends as the uninterrupted run"

# Eval: the questions split over the ranks, the same numbers.
eval_args=(eval --workspace "$ws" --data arithmetic --checkpoint treerpo-2 --questions 24 --samples 3 --json)
"$bin" "${eval_args[@]}" --threads 2 >"$work/eval-1.json"
"${mpi[@]}" "$bin" "${eval_args[@]}" --threads 1 >"$work/eval-2.json" 2>"$work/err" || { cat "$work/err"; fail "eval on two ranks"; }
cmp -s "$work/eval-1.json" "$work/eval-2.json" || fail "eval on 2 ranks printed $(cat "$work/eval-2.json"), one process $(cat "$work/eval-1.json")"
echo "test_mpi: ok: eval over 2 ranks = 1 process"

rank_pid() {  # MPIRUN_PID RANK: the process id of that rank of the job
  local p
  for p in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then echo "$p"; return; fi
  done
}
long_job() {  # RUN EXTRA...: a long 2-rank run in the background; sets job_pid once its first checkpoint exists
  "${mpi[@]}" "$bin" finetune --workspace "$ws" --task arithmetic --steps 1000 --prompts-per-step 16 \
    --micro-batch-tokens 256 --checkpoint-every 1 --keep-checkpoints 2 --threads 1 --run "$1" "${@:2}" \
    >/dev/null 2>"$work/$1.err" &
  job_pid=$!
  for _ in $(seq 600); do
    ls "$ws/runs/$1/checkpoints" 2>/dev/null | grep -q '^step-' && return
    sleep 0.1
  done
  fail "$1: no checkpoint within 60 s"
}
ends_within() {  # PID SECONDS WHAT: the job ends, non-zero, within SECONDS
  local start=$SECONDS status=0
  while kill -0 "$1" 2>/dev/null; do
    (( SECONDS - start <= $2 )) || { kill -9 "$1"; fail "$3: the job still ran after $2 s"; }
    sleep 0.2
  done
  wait "$1" || status=$?
  (( status != 0 )) || fail "$3: the job exited 0"
  echo "test_mpi: ok: $3 (exit $status after $((SECONDS - start)) s)"
}

long_job killed
kill -9 "$(rank_pid "$job_pid" 1)"
ends_within "$job_pid" 60 "a killed rank ends the job"
last=$(ls "$ws/runs/killed/checkpoints" | grep '^step-' | tail -1)
"$bin" eval --workspace "$ws" --data arithmetic --checkpoint "killed/$last" --questions 2 --samples 1 --json >/dev/null \
  || fail "the last checkpoint ($last) of the killed job does not load"
echo "test_mpi: ok: the killed job's last checkpoint $last loads"

long_job hung --mpi-timeout 5
kill -STOP "$(rank_pid "$job_pid" 1)"
ends_within "$job_pid" 60 "a hung rank ends the job through --mpi-timeout"
grep -q "waited more than 5 s" "$work/hung.err" || { cat "$work/hung.err"; fail "the hung job's message does not name the time-out"; }

if mpirun --oversubscribe -np 1 "$bin" finetune "${common[@]}" --run mismatch --threads 1 : \
     -np 1 "$bin" finetune "${common[@]}" --run mismatch --threads 1 --seed 7 >/dev/null 2>"$work/err"; then
  fail "ranks with different arguments were not refused"
fi
grep -q "same build with the same command line" "$work/err" || { cat "$work/err"; fail "the mismatch message is missing"; }
echo "test_mpi: ok: ranks with different arguments are refused"

if [ -n "$plain" ]; then
  if "${mpi[@]}" "$plain" finetune "${common[@]}" --run plain >/dev/null 2>"$work/err"; then
    fail "a build without MPI ran as one of two ranks"
  fi
  grep -q "built without MPI" "$work/err" || { cat "$work/err"; fail "the no-MPI message is missing"; }
  echo "test_mpi: ok: a build without MPI refuses to run as one of several ranks"
fi
# Two hosts on one machine: a namespace with its own network stack, joined by a veth pair.
netns=treerpo-mpi-host2
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! ip netns add "$netns" 2>/dev/null; then
  echo "test_mpi: SKIPPING the two-host (TCP) check: creating a network namespace needs root and iproute2"
else
  trap 'ip netns del "$netns" 2>/dev/null; rm -rf "$work"' EXIT
  ip link add treerpo-mpi-v1 type veth peer name treerpo-mpi-v2
  ip link set treerpo-mpi-v2 netns "$netns"
  ip addr add 10.77.0.1/24 dev treerpo-mpi-v1 && ip link set treerpo-mpi-v1 up
  ip netns exec "$netns" ip addr add 10.77.0.2/24 dev treerpo-mpi-v2
  ip netns exec "$netns" ip link set treerpo-mpi-v2 up
  ip netns exec "$netns" ip link set lo up
  # mpirun starts remote ranks as `AGENT [options] HOST COMMAND`, the command for a remote shell.
  cat >"$work/enter-host" <<AGENT
#!/bin/sh
while [ "\${1#-}" != "\$1" ]; do shift; done
[ "\$1" = 10.77.0.2 ] || { echo "enter-host: no host \$1" >&2; exit 1; }
shift
exec ip netns exec $netns /bin/sh -c "\$*"
AGENT
  chmod +x "$work/enter-host"
  printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$work/hosts"
  mpirun --hostfile "$work/hosts" -np 2 --bind-to none --mca plm_rsh_agent "$work/enter-host" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    "$bin" finetune "${common[@]}" --preset treerpo --run two-hosts --threads 1 >/dev/null 2>"$work/err" \
    || { cat "$work/err"; fail "two hosts over TCP"; }
  same_run treerpo-1 two-hosts "2 hosts (network namespaces, TCP) x 1 thread = 1 process x 2 threads"
fi
echo "test_mpi: all checks passed"
