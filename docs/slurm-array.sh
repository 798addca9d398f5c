#!/usr/bin/env bash
# Broker-less sharding on SLURM: one array task per shard of the same plan, then a merge job that starts only when
# every task succeeded. The output folder must be on a filesystem all nodes share (Lustre, GPFS, NFS): the plan,
# shard outputs and done markers live next to the output (`<output>.shards/`).
#
#   bash docs/slurm-array.sh              # submits the array and the dependent merge
#
# A failed task can be resubmitted alone (`sbatch --array=7 docs/slurm-array.sh`): a re-run shard rewrites
# identical bytes, and the merge refuses to run while any shard lacks its done marker (it lists the missing ids).
#SBATCH --job-name=vlkit-extract
#SBATCH --array=0-31
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=12:00:00
set -euo pipefail

SHARDS=32
OUT=/shared/out/val2014_obj36.tsv
ARGS=(--model /shared/models/butd_resnet101.onnx --images /shared/coco/val2014 --out "$OUT" --boxes 36 --ep cuda)

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  # Run by hand, not inside the array: submit the array, then the merge after all of its tasks succeeded.
  array=$(sbatch --parsable "$0")
  sbatch --dependency=afterok:"$array" --job-name=vlkit-merge --cpus-per-task=1 --time=1:00:00 \
    --wrap "vlkit merge --run-dir $OUT.shards"
  exit 0
fi

exec vlkit extract "${ARGS[@]}" --shard-index "$SLURM_ARRAY_TASK_ID" --num-shards "$SHARDS" --log-format json
