#!/usr/bin/env bash
# GPU check, from the project's root with python3 and torch; writes to $OUT. STEPS: train (the default run twice, host
# syncs, torch.compile), tests, bench ($DEVICE), cpu-bench (CPU_CORES as a 2-core machine, more in CPU_BENCH_ARGS).
set -uo pipefail
: "${DEVICE:=cuda}" "${TRAIN_ARGS:=}" "${EPOCHS:=3}" "${STEPS:=train tests bench}" "${CPU_CORES:=0,1}"
mkdir -p "${OUT:=/tmp/gpu-check}"; step() { [[ " $STEPS " == *" $1 "* ]]; }
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  python3 -c "import torch as t; print('torch', t.__version__, 'cuda', t.version.cuda,
    t.cuda.is_available() and t.cuda.get_device_name(0))"; lscpu | grep -E "Model name|Thread|Core|Socket|L3"
  grep -o -w 'amx_[a-z0-9]*\|avx512_bf16\|avx512f' /proc/cpuinfo | sort | uniq -c; } 2>&1 | tee "$OUT/machine.txt"
train() {  # train NAME [FLAGS...]: scripts/train.py's main into $OUT/runs/NAME; LOSS_CHECKS=N: loss reads per epoch
  python3 -c 'import os, sys; sys.path[:0] = [".", "scripts"]; import train, utils.train as t
t.LOSS_CHECKS_PER_EPOCH = int(os.environ.get("LOSS_CHECKS", t.LOSS_CHECKS_PER_EPOCH)); train.main(sys.argv[1:])' \
    --device "$DEVICE" --run-name "$1" --runs-dir "$OUT/runs" --progress false "${@:2}" $TRAIN_ARGS 2>&1 |
    tail -4 | tee "$OUT/train-$1.log"; }
if step train; then
  for name in default-a default-b; do train $name; done  # the same seed twice: timings and determinism
  LOSS_CHECKS=1000000000 train sync-every-batch --epochs "$EPOCHS"  # a wait for the GPU after every batch
  train sync-few --epochs "$EPOCHS"; train compiled --epochs "$EPOCHS" --compile true
  python3 - "$OUT/runs" <<'PY' 2>&1 | tee "$OUT/summary.txt"
import json, sys, pathlib
record = {p.parent.name: json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1]).glob("*/metrics.json")}
if (a := record.get("default-a")) and (b := record.get("default-b")):
    print("default run, seconds per epoch:", [round(s, 2) for s in a["epoch_seconds"]])
    print(f"final accuracy a/b: {a['test_accuracy'][-1]:.2f}% / {b['test_accuracy'][-1]:.2f}%, every epoch",
          "identical" if a["test_accuracy"] == b["test_accuracy"] else "DIFFERENT")
for name, r in [(name, record[name]) for name in ("sync-every-batch", "sync-few", "compiled") if name in record]:
    later = r["epoch_seconds"][1:] or r["epoch_seconds"]
    print(f"{name}: start-up {r.get('setup_seconds', 0):.1f} s, epochs {[round(s, 2) for s in r['epoch_seconds']]}, "
          f"mean after the first {sum(later) / len(later):.2f} s, final {r['test_accuracy'][-1]:.2f}%")
PY
fi
step tests && timeout 120 python3 -m pytest -q -o addopts="" -p no:cacheprovider tests \
  --ignore=tests/test_notebooks.py 2>&1 | tail -15 | tee "$OUT/pytest.txt"
step bench && timeout 200 python3 scripts/benchmark.py --device "$DEVICE" --repeats 2 --out "$OUT/benchmarks" 2>&1 |
  tail -40 | tee "$OUT/benchmark.txt"
pin=(); command -v taskset > /dev/null && pin=(taskset -c "$CPU_CORES")
step cpu-bench && "${pin[@]}" timeout "${CPU_BENCH_TIMEOUT:-420}" python3 scripts/benchmark.py --device cpu \
  --threads "$("${pin[@]}" nproc)" --repeats "${CPU_REPEATS:-2}" ${CPU_BENCH_ARGS:-} --out "$OUT/cpu-benchmarks" 2>&1 |
  tail -60 | tee "$OUT/cpu-benchmark.txt"
exit 0
