#!/usr/bin/env bash
# The validation-only search behind the study's `best` configuration (examples/study/experiments.hpp).
# Trains eight candidates, two at a time, into runs-search/ and prints their VALIDATION results only:
# the choice is the candidate whose best checkpoint (lowest val_loss) has the highest validation
# accuracy. The test set is not looked at.    Usage: scripts/search-best-config.sh   (about 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
train=build/release/bin/train
[ -x "$train" ] || { echo "build first: cmake --workflow --preset release" >&2; exit 1; }
out=runs-search
common=(--hidden 1024,1024 --batch-norm --optimizer adamw --schedule cosine --quiet --threads 1)
run() {  # name flags...
  local name=$1; shift
  "$train" "${common[@]}" "$@" --out "$out/$name" > /dev/null
}
run A --dropout 0.3 --lr 1e-3 --weight-decay 0.05 --label-smoothing 0.1 --epochs 40 --patience 10 &
run B --dropout 0.3 --lr 1e-3 --weight-decay 0.05 --label-smoothing 0   --epochs 40 --patience 10; wait
run C --dropout 0.4 --lr 1e-3 --weight-decay 0.05 --label-smoothing 0.1 --epochs 40 --patience 10 &
run D --dropout 0.3 --lr 1e-3 --weight-decay 0.05 --label-smoothing 0.1 --epochs 50 --patience 50; wait
run E --dropout 0.3 --lr 1e-3 --weight-decay 0.1  --label-smoothing 0.1 --epochs 40 --patience 10 &
run F --dropout 0.3 --lr 2e-3 --weight-decay 0.05 --label-smoothing 0.1 --epochs 40 --patience 10; wait
run G --dropout 0.4 --lr 2e-3 --weight-decay 0.05 --label-smoothing 0.1 --epochs 40 --patience 10 &
run I --dropout 0.3 --lr 3e-3 --weight-decay 0.05 --label-smoothing 0.1 --epochs 40 --patience 10; wait
/usr/bin/python3 - "$out" <<'PY'
import json, pathlib, sys
rows = []
for d in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    s = json.loads((d / "summary.json").read_text()); c = s["config"]; t = s["training"]
    rows.append((t["best_val_acc"], d.name, c, t))
print("| candidate | dropout | lr | weight decay | label smoothing | epochs (patience) | best epoch / run | val loss | val accuracy |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for acc, name, c, t in rows:
    print(f"| {name} | {c['dropout']} | {c['lr']} | {c['weight_decay']} | {c['label_smoothing']} | {c['epochs']} ({c['patience']}) "
          f"| {t['best_epoch']} / {t['epochs_run']} | {t['best_val_loss']:.4f} | {100 * acc:.2f}% |")
print(f"\nhighest validation accuracy: {max(rows, key=lambda r: r[0])[1]}")
PY
