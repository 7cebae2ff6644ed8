#!/usr/bin/env bash
# Grade a class on a Slurm cluster: a job array of N tasks, task K grading shard K/N into its own
# folder, then one merge job that Slurm starts once every task has finished.
#
# From a login node, in the kit's folder (set up once with `make setup`; the folders must be on a
# file system that every node sees):
#
#   examples/cluster/slurm_array.sh submit SUBMISSIONS OUT N
#
# submits `task` as an array (--array=1-N) and `merge` with --dependency=afterok on it. Shard K
# is graded into OUT/shards/K, the class's files land in OUT/merged. A task that failed is
# resubmitted alone: `sbatch --array=K ...` (grading resumes from each shard's ledger).
# The modes `task` and `merge` are what the jobs run; with SLURM_ARRAY_TASK_ID set by hand they
# run anywhere (tests/test_cluster_examples.py does that).
#
# Settings, from the environment: KIT (the kit's folder; default: two folders above this script),
# GRADE_OPTIONS (more options for `grade`, e.g. "--jobs 3 --timeout 1200"), MERGE_OPTIONS (for
# `merge`, e.g. "--roster roster.csv --assignment-name HW3"), SBATCH_OPTIONS (for both
# submissions, e.g. "--partition=cpu --account=course"); each is split at spaces, without quoting.
#
#SBATCH --job-name=grade-shard
#SBATCH --cpus-per-task=4
#SBATCH --mem=12G
#SBATCH --time=04:00:00
#SBATCH --output=grade-shard-%A_%a.log
set -euo pipefail

usage() {
    echo "usage: $0 submit|task|merge SUBMISSIONS OUT N" >&2
    exit 2
}

[ "$#" -eq 4 ] || usage
mode=$1 submissions=$2 out=$3 count=$4
case "$count" in '' | *[!0-9]* | 0) echo "error: N must be a whole number of shards, 1 or more, not '$count'" >&2; exit 2 ;; esac
# Slurm runs a copy of this script from its spool folder, so the kit is found from KIT, set at submission.
kit=${KIT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
python="$kit/.venv/bin/python"
read -r -a grade_options <<<"${GRADE_OPTIONS:-}"
read -r -a merge_options <<<"${MERGE_OPTIONS:-}"
read -r -a sbatch_options <<<"${SBATCH_OPTIONS:-}"

# `grade` and `merge` exit 1 when a submission ended in `error` (look at it in summary.html): the
# shard is still complete and mergeable. Only 2 and above (a usage error, a crash) fail the job.
tolerate_errors() {
    local code=0
    "$@" || code=$?
    [ "$code" -le 1 ] || exit "$code"
}

case "$mode" in
    submit)
        command -v sbatch >/dev/null || { echo "error: sbatch not found: run this on a Slurm login node" >&2; exit 2; }
        script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
        mkdir -p "$out"
        array=$(sbatch --parsable "${sbatch_options[@]}" --export=ALL,KIT="$kit" --array="1-$count" \
            "$script" task "$submissions" "$out" "$count")
        array=${array%%;*}  # --parsable prints "jobid" or "jobid;cluster"
        merge=$(sbatch --parsable "${sbatch_options[@]}" --export=ALL,KIT="$kit" --dependency="afterok:$array" \
            --job-name=grade-merge --cpus-per-task=1 --mem=4G --time=00:30:00 --output="grade-merge-%j.log" \
            "$script" merge "$submissions" "$out" "$count")
        echo "submitted shards as job array $array (1-$count) and the merge as job ${merge%%;*}: results in $out/merged"
        ;;
    task)
        shard=${SLURM_ARRAY_TASK_ID:?this is a Slurm array task: set SLURM_ARRAY_TASK_ID (1 to N)}
        tolerate_errors "$python" -m autograder grade "$submissions" --out "$out/shards/$shard" \
            --shard "$shard/$count" "${grade_options[@]}"
        ;;
    merge)
        folders=()
        for shard in $(seq 1 "$count"); do folders+=("$out/shards/$shard"); done
        tolerate_errors "$python" -m autograder merge "${folders[@]}" --out "$out/merged" "${merge_options[@]}"
        ;;
    *) usage ;;
esac
