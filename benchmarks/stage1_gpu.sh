#!/bin/bash
# Stage-1 arms side by side on one lent GPU, for a call of fixed length: each arm trains for as many epochs as its
# one-epoch probe says fit before the deadline, so every arm ends with a saved LM (one slanted triangular cycle).
#
#   OUT=/tmp/out BUDGET=520 bash benchmarks/stage1_gpu.sh \
#       "d10_fwd=--set drop_mult=0.1" "d10_bwd=--set drop_mult=0.1 --backwards"
#
# Each argument is NAME=EXTRA: EXTRA is added to `fitlam pretrain $SETS` (default SETS: the demo preset at batches of
# 128 x 70, float32), e.g. "--set n_hid=320", "--backwards", "--start models/general_english_fwd". BUDGET is the
# seconds the whole script may take (keep it ~60 s under the call's timeout). Writes $OUT/NAME.tgz (the LM folder,
# no checkpoint) per arm and $OUT/logs.tgz; at most 7 arms, as a device call returns at most 8 files. Two arms share
# an H200 at about full speed each; four take about twice as long per epoch (benchmarks/README.md).
# On the lent machines python3 has torch but not fastprogress: carry it in a folder, made here with
#   pip install --no-deps --target .devrun/site fastprogress==1.1.6 fastcore
# and name .devrun in the call's carry (SITE says where it is). TF32 is off so the cards' perplexities, computed
# there, are what tests/test_pretrained.py recomputes on a CPU.
# Then, on the CPU, score a pair before it replaces models/: `make demo`'s command with `--pretrained DIR` (a folder
# holding both) and `--set n_hid=...`, and benchmarks/label_curve.py with `--lms FWD_DIR BWD_DIR` and the same --set.
set -u
[ $# -ge 1 ] && [ $# -le 7 ] || { echo "give 1 to 7 arms NAME=EXTRA" >&2; exit 2; }
T0=$(date +%s); DEADLINE=$((T0 + ${BUDGET:-520}))
export PYTHONPATH=$PWD/${SITE:-.devrun/site}:$PWD PYTHONUNBUFFERED=1 NVIDIA_TF32_OVERRIDE=0
SETS=${SETS:-"--preset demo --set bs=128 --set bptt=70 --set mixed_precision=false"}
OUT=${OUT:?set OUT to the folder that comes back}
WORK=$(mktemp -d); mkdir -p $WORK/logs $WORK/probe $WORK/lm
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc
  python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version())"; } > $WORK/logs/env.txt 2>&1
cat $WORK/logs/env.txt
declare -A EXTRA EPOCHS
for arm in "$@"; do EXTRA[${arm%%=*}]=${arm#*=}; done
NAMES=$(for arm in "$@"; do echo ${arm%%=*}; done)
for name in $NAMES; do   # the probes: one epoch each, side by side as the real runs will be
  python3 -m fitlam pretrain $SETS ${EXTRA[$name]} --epochs 1 --out $WORK/probe/$name > $WORK/logs/probe_$name.log 2>&1 &
done
wait
echo "probes done at $(( $(date +%s) - T0 ))s"
for name in $NAMES; do
  EPOCHS[$name]=$(python3 - $WORK/probe/$name $DEADLINE <<'PY'
import csv, json, sys, time
folder, deadline = sys.argv[1], float(sys.argv[2])
try: seconds = float(list(csv.DictReader(open(folder + "/history.csv")))[0]["time"])
except (OSError, IndexError, KeyError): print(0); sys.exit()   # the probe failed: its log says why
left = deadline - time.time() - 45   # start-up, the final validation and save, packing
print(max(1, int(0.86 * left / seconds)))
perplexity = json.load(open(folder + "/card.json"))["valid_perplexity"]
print(f"{folder}: an epoch takes {seconds:.1f}s with validation (perplexity {perplexity:.2f}); {left:.0f}s left", file=sys.stderr)
PY
)
done
for name in $NAMES; do
  [ "${EPOCHS[$name]}" -ge 1 ] || { echo "$name: probe failed"; tail -5 $WORK/logs/probe_$name.log; continue; }
  echo "$name: ${EPOCHS[$name]} epochs from $(( $(date +%s) - T0 ))s"
  python3 -m fitlam pretrain $SETS ${EXTRA[$name]} --epochs ${EPOCHS[$name]} --out $WORK/lm/$name > $WORK/logs/pretrain_$name.log 2>&1 &
done
wait
echo "pretraining done at $(( $(date +%s) - T0 ))s"
for name in $NAMES; do
  [ -f $WORK/logs/pretrain_$name.log ] && tail -2 $WORK/logs/pretrain_$name.log
  [ -d $WORK/lm/$name ] && tar czf $OUT/$name.tgz -C $WORK/lm --exclude=checkpoints $name
done
tar czf $OUT/logs.tgz --exclude='*.pth' -C $WORK logs probe
echo "total $(( $(date +%s) - T0 ))s"
