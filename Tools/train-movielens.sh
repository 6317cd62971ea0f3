#!/usr/bin/env bash
# The trainer on MovieLens-100K, time split 80/10/10: the sdim, full and none variants (and a logistic
# regression on user and item ids) in one run, each as a v2 bundle (behaviors carry their feedback, the
# default here) and as a plain v1 bundle; then each trained bundle's test period is replayed through the
# scorer in its own mode — the replay's AUC must equal the trainer's test AUC. Ends with the trainer's
# targets, met or not.
# Usage: [SEED=N] Tools/train-movielens.sh [OUT]   (default Output/train-movielens, seed 1; about 4 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-Output/train-movielens}
data=Data/ml-100k
# The documented runs: at most 20 epochs, batches of whole users (≤ 1024 samples), lr 3e-4, given (the
# defaults now: a learning-rate search kept by the valid AUC, which keeps 3e-4 for v2 sdim at seed 1, and at
# most 100 epochs, which early stopping ends before 20 for v2 sdim).
settings=(--seed "${SEED:-1}" --lr 3e-4 --epochs 20)
swift build -c release --product lifelong
bin=.build/release/lifelong
rm -rf "$out" && mkdir -p "$out"
for bundle in v2 v1; do
    flags=(--feedback); [ "$bundle" = v1 ] && flags=(--no-feedback)
    for variant in sdim full none; do
        extra=(); [ "$bundle$variant" = v2sdim ] && extra=(--baseline)
        "$bin" train --data "$data" --out "$out/$bundle-$variant" --long "$variant" \
            "${flags[@]}" "${extra[@]}" "${settings[@]}" --quiet \
            | tee "$out/$bundle-$variant.txt"
    done
done
test_time=$(sed -n 's/.*"testTime" : \([0-9.e+]*\).*/\1/p' "$out/v2-sdim/training.json")
echo
echo "| bundle | variant | best epoch | valid AUC | test AUC (trainer) | test AUC (replay, mode) |"
echo "|---|---|---:|---:|---:|---:|"
for bundle in v2 v1; do
    for variant in sdim full none; do
        case $variant in sdim) mode=bse ;; full) mode=full ;; none) mode=short ;; esac
        name=$bundle-$variant
        replay=$("$bin" replay --model "$out/$name" --data "$data" --report "$out/replay-$name" \
            --split-time "$test_time" --modes "$mode" --durability nosync --quiet \
            | sed -n "s/^$mode: AUC \([0-9.]*\).*/\1/p")
        best=$(sed -n "s/^$variant: best epoch \([0-9]*\) of.*/\1/p" "$out/$name.txt")
        valid=$(sed -n 's/^  valid AUC \([0-9.]*\),.*/\1/p' "$out/$name.txt")
        test=$(sed -n 's/^  test  AUC \([0-9.]*\),.*/\1/p' "$out/$name.txt")
        echo "$test" > "$out/$name.auc"
        echo "| $bundle | $variant | $best | $valid | $test | $replay ($mode) |"
    done
done
echo
grep "logistic regression" "$out/v2-sdim.txt"
lr=$(sed -n 's/.*logistic regression.*test AUC \([0-9.]*\).*/\1/p' "$out/v2-sdim.txt")
sdim=$(cat "$out/v2-sdim.auc") full=$(cat "$out/v2-full.auc") none=$(cat "$out/v2-none.auc")
awk -v s="$sdim" -v f="$full" -v n="$none" -v lr="$lr" 'function yes(c) { return c ? "met" : "MISSED" } BEGIN {
    printf "targets (v2 bundles): sdim %s >= 0.72: %s; ", s, yes(s >= 0.72)
    printf "sdim >= logistic regression %s: %s; ", lr, yes(s >= lr)
    printf "sdim within 0.005 of full %s or better: %s; sdim above none %s: %s\n",
        f, yes(s >= f - 0.005), n, yes(s > n) }'
