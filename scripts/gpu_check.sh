#!/usr/bin/env bash
# GPU check for the course, run from the project's root on a machine with a CUDA GPU (adapted from the course
# team's shared check). Needs python3 with torch; no papermill, jupyter or network. Writes to $OUT.
#   PYTHONUNBUFFERED=1 bash scripts/gpu_check.sh          (a few minutes on an H100)
#   DEVICE=cpu TRAIN_ARGS="--epochs 1 --data-fraction 0.05" STEPS="train" bash scripts/gpu_check.sh   (a dry run)
#   STEPS="cpu-bench tests" bash scripts/gpu_check.sh   (the host's CPU as a 2-core machine of another kind)
# STEPS picks what runs: train (two default runs, host syncs, compile), tests, bench (on the GPU), cpu-bench
# (the whole benchmark on the CPU, pinned to CPU_CORES, so a big host stands in for a 2-core machine; more of
# its options in CPU_BENCH_ARGS, e.g. "--sections models settings").
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda}; TRAIN_ARGS=${TRAIN_ARGS:-}; EPOCHS=${EPOCHS:-3}
STEPS=${STEPS:-train tests bench}; CPU_CORES=${CPU_CORES:-0,1}
step() { [[ " $STEPS " == *" $1 "* ]]; }
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))"
  lscpu | grep -E "Model name|Thread|Core|Socket|L3"
  grep -o -w 'amx_[a-z0-9]*\|avx512_bf16\|avx512f' /proc/cpuinfo | sort | uniq -c
} 2>&1 | tee "$OUT/machine.txt"
train() {  # train NAME [FLAGS...]: a run into $OUT/runs/NAME
  local name=$1; shift
  python3 scripts/train.py --device "$DEVICE" --run-name "$name" --runs-dir "$OUT/runs" --progress false "$@" 2>&1 |
    tail -4 | tee "$OUT/train-$name.log"
}
if step train; then
# 1. The default run twice with the same seed: timings and determinism.
train default-a $TRAIN_ARGS
train default-b $TRAIN_ARGS
# 2. The host reading the loss after every batch (as before LOSS_CHECKS_PER_EPOCH) against a few times an epoch,
#    and torch.compile: short runs, the same settings otherwise.
python3 - "$DEVICE" "$OUT" "$EPOCHS" $TRAIN_ARGS <<'PY' 2>&1 | tail -4 | tee "$OUT/train-sync-every-batch.log"
import sys
sys.path[:0] = [".", "scripts"]
import train as script
import utils.train
utils.train.LOSS_CHECKS_PER_EPOCH = 10**9  # a read, and so a wait for the GPU, after every batch
device, out, epochs, *rest = sys.argv[1:]
script.main(["--device", device, "--run-name", "sync-every-batch", "--runs-dir", f"{out}/runs", "--progress",
             "false", "--epochs", epochs, *rest])
PY
train sync-few --epochs "$EPOCHS" $TRAIN_ARGS
train compiled --epochs "$EPOCHS" --compile true $TRAIN_ARGS
python3 - "$OUT" <<'PY' 2>&1 | tee "$OUT/summary.txt"
import json, sys, pathlib
runs = pathlib.Path(sys.argv[1]) / "runs"
record = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/metrics.json")}
a, b = record.get("default-a"), record.get("default-b")
if a and b:
    print("default run, seconds per epoch:", [round(s, 2) for s in a["epoch_seconds"]])
    print(f"final accuracy a/b: {a['test_accuracy'][-1]:.2f}% / {b['test_accuracy'][-1]:.2f}%, every epoch",
          "identical" if a["test_accuracy"] == b["test_accuracy"] else "DIFFERENT")
for name in ("sync-every-batch", "sync-few", "compiled"):
    if name in record:
        r = record[name]
        later = r["epoch_seconds"][1:] or r["epoch_seconds"]
        print(f"{name}: start-up {r.get('setup_seconds', 0):.1f} s, epochs {[round(s, 2) for s in r['epoch_seconds']]}, "
              f"mean after the first {sum(later) / len(later):.2f} s, final {r['test_accuracy'][-1]:.2f}%")
PY
fi
# 3. The unit tests that run without notebooks, on this machine's torch (a version check, as on Colab).
step tests && timeout 120 python3 -m pytest -q -o addopts="" -p no:cacheprovider tests --ignore=tests/test_notebooks.py 2>&1 | tail -15 |
  tee "$OUT/pytest.txt"
# 4. The benchmark.
step bench && timeout 200 python3 scripts/benchmark.py --device "$DEVICE" --repeats 2 --out "$OUT/benchmarks" 2>&1 |
  tail -40 | tee "$OUT/benchmark.txt"
# 5. The benchmark on the CPU alone, on CPU_CORES only (two cores, as the course's CI machines), a thread each.
pin=(); command -v taskset > /dev/null && pin=(taskset -c "$CPU_CORES")
step cpu-bench && "${pin[@]}" timeout "${CPU_BENCH_TIMEOUT:-420}" python3 scripts/benchmark.py --device cpu \
  --threads "$("${pin[@]}" nproc)" --repeats "${CPU_REPEATS:-2}" ${CPU_BENCH_ARGS:-} --out "$OUT/cpu-benchmarks" 2>&1 |
  tail -60 | tee "$OUT/cpu-benchmark.txt"
exit 0
