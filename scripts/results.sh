#!/usr/bin/env bash
# Regenerates docs/results.md and docs/figures/ from real runs:  scripts/results.sh
#   1. trains the evaluation models that are missing under models/eval/ (the exact commands
#      are below and are copied into docs/results.md);
#   2. runs every evaluation into out/results/<name>/ (results.json, results.md, curves.svg/png);
#   3. writes docs/results.md, draws its plots into docs/figures/ and copies every results
#      document to docs/results-data/ (OUT=docs/results-data ONLY=doc scripts/results.sh
#      rebuilds the text from those alone).
# Sample sizes (environment): SAMPLES_LM (perturbation windows per LM, default 200),
# SAMPLES_CLS (classifier passages, default 200), SAMPLES_FIXTURE (windows for the two larger
# PyTorch-trained fixture LMs, default 40), SAMPLES_GT (task examples, default 200).
# ONLY=lms / ONLY=classifiers train just those models. An evaluation whose results.json
# exists in OUT is not rerun (RERUN=1 reruns it).
# RETRAIN=1 retrains every model; ONLY=models stops after training; ONLY=doc only rebuilds the
# document from the results already in OUT. OUT (default out/results) and DOCS (default docs)
# redirect the outputs. A full run takes about an hour of CPU time (2 cores, shared).
set -euo pipefail
cd "$(dirname "$0")/.."

SAMPLES_LM=${SAMPLES_LM:-200}
SAMPLES_CLS=${SAMPLES_CLS:-200}
SAMPLES_FIXTURE=${SAMPLES_FIXTURE:-40}
SAMPLES_GT=${SAMPLES_GT:-200}
EVAL=models/eval
OUT=${OUT:-out/results}
DOCS=${DOCS:-docs}
IATTN=(node bin/iattn.js)
# Families of the ground-truth tasks (the issue's minimum) and every family we can train (perturbation tests).
FAMILIES=(mamba mamba2 rwkv griffin gla)
ALL_FAMILIES=(mamba mamba2 rwkv griffin gla hgrn retnet)
mkdir -p "$EVAL" "$OUT"
STEP=${ONLY:-all}
if [ "$STEP" = doc ]; then STEP=skip-to-doc; fi

if [ "$STEP" != skip-to-doc ]; then
# 1. Models ----------------------------------------------------------------------------
# The task models use a 32-id word-level vocabulary (one character per id).
if [ ! -f "$EVAL/task-tokenizer.json" ]; then
  node --import tsx -e "import('./src/evaluate/tasks.ts').then(({ taskTokenizerJson }) => require('node:fs').writeFileSync('$EVAL/task-tokenizer.json', JSON.stringify(taskTokenizerJson(32))))"
fi

# train DIR ARGS…: trains into DIR unless it already holds a model (or RETRAIN=1); keeps the
# summary in DIR/train_summary.json and the command in DIR/train_command.txt, compresses the
# log (train_log.jsonl.gz) and drops the optimizer state (not needed to evaluate; such a run
# cannot be resumed).
train() {
  local dir=$1
  shift
  if [ -f "$dir/model.safetensors" ] && [ "${RETRAIN:-0}" != 1 ]; then return; fi
  rm -rf "$dir"
  echo "training $dir: iattn train $* --out $dir" >&2
  "${IATTN[@]}" train "$@" --out "$dir" --json > "$dir.summary.json"
  mv "$dir.summary.json" "$dir/train_summary.json"
  echo "iattn train $* --out $dir" > "$dir/train_command.txt"
  rm -f "$dir/optimizer.safetensors"
  gzip -9f "$dir/train_log.jsonl"
}

# One small Austen language model per family (one recipe) and one which-novel classifier per family (recipes below).
train_lms() {
  for arch in "${ALL_FAMILIES[@]}"; do
    train "$EVAL/lm-$arch" --arch "$arch" --size tiny --hidden 128 --layers 2 --data austen --seq 64 --batch 16 --steps 300 --lr 3e-3 --eval-every 100 --eval-batches 8 --seed 0
  done
}
train_classifiers() {
  for arch in "${ALL_FAMILIES[@]}"; do
    # RWKV and Griffin learn with lr 1e-2 in 500 steps. The others stay at chance (15–19 %) with
    # 1e-2 and 3e-3 for 500 steps: GLA, HGRN and RetNet learn with 1e-3 over 1500 steps, Mamba2
    # with 1e-3 over 3000, Mamba with hidden 128 and 1e-3 over 1500 (at hidden 64 it stayed at
    # chance even so).
    local recipe=(--steps 1500 --lr 1e-3)
    case "$arch" in
      rwkv | griffin) recipe=(--steps 500 --lr 1e-2) ;;
      mamba2) recipe=(--steps 3000 --lr 1e-3 --eval-every 250) ;;
      mamba) recipe=(--hidden 128 --steps 1500 --lr 1e-3 --eval-every 250) ;;
    esac
    train "$EVAL/classifier-$arch" --arch "$arch" --size tiny --data austen-classify --seq 32 --batch 32 --eval-every 100 --eval-batches 12 --seed 0 "${recipe[@]}"
  done
}
train_tasks() {
  for arch in "${FAMILIES[@]}"; do
    train "$EVAL/needle-$arch" --arch "$arch" --size tiny --data task:needle --tokenizer "$EVAL/task-tokenizer.json" --seq 16 --batch 32 --steps 300 --lr 1e-2 --eval-every 100 --seed 0
    # RWKV, Griffin and GLA did not learn associative recall with lr 1e-2 (24–26 % accuracy):
    # Griffin learns with 3e-3; RWKV-4 (one scalar state pair per channel) needs hidden 128 and
    # 3000 steps; GLA stays near 30 % with 3e-3 (and reached 47 % with hidden 128, 3000 steps).
    local recall=(--lr 1e-2 --steps 2000)
    case "$arch" in
      griffin | gla) recall=(--lr 3e-3 --steps 2000) ;;
      rwkv) recall=(--hidden 128 --lr 3e-3 --steps 3000) ;;
    esac
    train "$EVAL/recall-$arch" --arch "$arch" --size tiny --data task:assoc-recall --tokenizer "$EVAL/task-tokenizer.json" --seq 12 --batch 32 "${recall[@]}" --eval-every 250 --seed 0
  done
}
if [ "$STEP" = lms ]; then train_lms; exit 0; fi
if [ "$STEP" = classifiers ]; then train_classifiers; exit 0; fi
if [ "$STEP" = tasks ]; then train_tasks; exit 0; fi
train_lms
train_classifiers
train_tasks

if [ "$STEP" = models ]; then exit 0; fi

# 2. Evaluations -----------------------------------------------------------------------
# evaluate NAME ARGS…: runs `iattn evaluate ARGS… --out OUT/NAME` unless OUT/NAME/results.json
# exists (RERUN=1 redoes it), so an interrupted run resumes where it stopped.
evaluate() {
  local name=$1
  shift
  if [ -f "$OUT/$name/results.json" ] && [ "${RERUN:-0}" != 1 ]; then return; fi
  echo "evaluating $name: iattn evaluate $*" >&2
  "${IATTN[@]}" evaluate "$@" --out "$OUT/$name" > /dev/null
}
for arch in "${ALL_FAMILIES[@]}"; do
  evaluate "perturbation-lm-$arch" perturbation --model "$EVAL/lm-$arch" --samples "$SAMPLES_LM" --seq 32 --kind delete --seed 0
  # A classifier left at chance by its training is not evaluated (results.md lists it with its accuracy).
  if node -e "process.exit(require('./$EVAL/classifier-$arch/train_summary.json').val_accuracy >= 0.3 ? 0 : 1)"; then
    evaluate "perturbation-classifier-$arch" perturbation --model "$EVAL/classifier-$arch" --samples "$SAMPLES_CLS" --kind delete --seed 0
  fi
done
# The shipped default classifier (models/classifier, 64-token passages).
evaluate "perturbation-classifier-default" perturbation --model models/classifier --samples "$SAMPLES_CLS" --kind delete --seed 0
# The PyTorch-trained language models of the test fixtures (larger, slower: fewer samples).
for lm in mamba2 rwkv; do
  evaluate "perturbation-fixture-$lm" perturbation --model "test/fixtures/trained/$lm" --samples "$SAMPLES_FIXTURE" --seq 32 --kind delete --seed 0
done
for task in needle recall; do
  for arch in "${FAMILIES[@]}"; do
    evaluate "groundtruth-$task-$arch" groundtruth --model "$EVAL/$task-$arch" --samples "$SAMPLES_GT" --seed 0
  done
done

# Vision (docs/vision.md): the evaluations of the shipped classifiers live with the models
# (models/vision/*/eval*/); VISION=1 reruns them (a few minutes per run on 2 shared cores).
# They are copied into OUT as vision-*.json, the names results-doc.ts recognises.
for m in vim mlla; do
  if [ "${VISION:-0}" = 1 ]; then
    "${IATTN[@]}" vision evaluate --model "models/vision/$m" --images 100 --perturbation-images 100 --accuracy-images 1000 --out "models/vision/$m/eval" > /dev/null
    "${IATTN[@]}" vision evaluate --model "models/vision/$m" --images 100 --perturbation-images 100 --accuracy-images 1000 --methods raw,rollout,hidden-attr,unified-attr,grad-attn --start-layer 2 --out "models/vision/$m/eval-start2" > /dev/null
  fi
  cp "models/vision/$m/eval/results.json" "$OUT/vision-$m.json"
  cp "models/vision/$m/eval-start2/results.json" "$OUT/vision-$m-start2.json"
done

fi

# 3. The document ----------------------------------------------------------------------
rm -f "$DOCS"/figures/perturbation-* "$DOCS"/figures/groundtruth-* "$DOCS"/figures/vision-*
node --import tsx src/cli/results-doc.ts "$OUT" "$DOCS"
echo "wrote $DOCS/results.md, $DOCS/figures/ and $DOCS/results-data/" >&2
