#!/usr/bin/env bash
# distalign main job: from nothing to a leaderboard, with no API key, no GPU and no network beyond the
# data source. Stages run in this order (the only place the order is written down):
#
#   1. setup        .venv with pinned dependencies (idempotent; seconds when already done)
#   2. fetch        benchmark data + released generations, sha256-verified  -> opinions_qa/ nytimes/ Global_Values/ results/
#   3. generate     new generations for $MODELS                               -> results/<dataset>/<output_type>/<model>/...
#   4. calibrate    temperature scaling of model_logprobs                     -> results/**/rescaled_model_logprobs{,_cv}/...
#   5. evaluate     TVs, baselines, bootstrap, leaderboards (released + new)  -> results/*.csv, results/leaderboard.md
#   6. figures      the paper's figures                                       -> results/figures/*.png|pdf
#   7. report       the HTML report (leaderboard, pairwise differences,     -> results/report/index.html
#                   question explorer, run health); prints leaderboard.md and ends with the report's path
#
# Every stage is resumable: Ctrl-C at any point loses nothing (writes are atomic, generations are cached
# and skipped when done); run the job again to continue. A second run reuses the cache and skips stages 4-7
# when nothing they read has changed.
#
# Knobs (environment variables):
#   MODELS                 space-separated models to generate for (default: the built-in local model,
#                          plus API models you list, e.g. MODELS="local/smollm2-135m-instruct openai/gpt-4o-2024-08-06";
#                          API models need OPENAI_API_KEY / ANTHROPIC_API_KEY; without the key they are skipped)
#   LIMIT                  questions per dataset for new generations (default 2: with the built-in model on
#                          2 shared CPU cores the whole job then takes about 17 minutes; LIMIT=0 means all questions)
#   DATASETS               datasets to generate (default: every registered dataset, distalign.datasets.DATASETS)
#   TASKS                  steering tasks (default "0 1 3": none, persona, few-shot; GlobalValues has no task 0)
#   OUTPUT_TYPES           expression methods (default "model_logprobs sequence express_distribution
#                          sequence_structured express_distribution_structured": the paper's three and the
#                          structured twins of Seq and V, "n/a" for a model that cannot constrain its decoding;
#                          also: independent_samples, option_likelihood)
#   MAX_TOKENS             reply budget of sequence / express_distribution (default 128: 30 letters or a JSON
#                          object, plus a short preamble)
#   MODE                   evaluation and temperature-scaling mode: fixed (default) or paper
#   SEED                   seed for sampling, few-shot example answers, bootstrap (default 0)
#   N_BOOTSTRAP            bootstrap resamples (default 1000)
#   CONCURRENCY            concurrent requests per model (default 16: the built-in model decodes 16 rows at once)
#   RESULTS_DIR            where results go (default results)
#   DISTALIGN_DATA_SOURCE  data source folder or URL (default: ../shared/benchmark-data when present,
#                          else the upstream addresses)
#   SKIP_GENERATE=1        evaluate the released generations only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

MODELS="${MODELS:-local/smollm2-135m-instruct}"
LIMIT="${LIMIT:-2}"
DATASETS="${DATASETS:-}"
TASKS="${TASKS:-0 1 3}"
OUTPUT_TYPES="${OUTPUT_TYPES:-model_logprobs sequence express_distribution sequence_structured express_distribution_structured}"
MAX_TOKENS="${MAX_TOKENS:-128}"
MODE="${MODE:-fixed}"
SEED="${SEED:-0}"
N_BOOTSTRAP="${N_BOOTSTRAP:-1000}"
CONCURRENCY="${CONCURRENCY:-16}"
RESULTS_DIR="${RESULTS_DIR:-results}"
if [ -z "${DISTALIGN_DATA_SOURCE:-}" ] && [ -d ../shared/benchmark-data ]; then
  DISTALIGN_DATA_SOURCE="$(cd ../shared/benchmark-data && pwd)"
fi
export DISTALIGN_DATA_SOURCE="${DISTALIGN_DATA_SOURCE:-}"

py=.venv/bin/python
started=$SECONDS
stage() { printf '\n==> [%s] %s (t=%ds)\n' "$1" "$2" $((SECONDS - started)); }
trap 'printf "\nInterrupted: nothing is lost; run bash job.sh again to continue.\n"; exit 130' INT

stage 1/7 "setup: .venv"
bash scripts/setup_env.sh

stage 2/7 "fetch: benchmark data and released generations"
$py -m distalign.data fetch ${DISTALIGN_DATA_SOURCE:+--source "$DISTALIGN_DATA_SOURCE"}

stage 3/7 "generate: $MODELS (LIMIT=$LIMIT per dataset)"
if [ "${SKIP_GENERATE:-0}" = 1 ]; then
  echo "skipped (SKIP_GENERATE=1)"
else
  runnable=()
  for m in $MODELS; do
    case "$m" in
      openai/*|gpt-*) [ -n "${OPENAI_API_KEY:-}${OPENAI_BASE_URL:-}" ] || { echo "skip $m: OPENAI_API_KEY is not set"; continue; } ;;
      anthropic/*|anthropic_*) [ -n "${ANTHROPIC_API_KEY:-}" ] || { echo "skip $m: ANTHROPIC_API_KEY is not set"; continue; } ;;
    esac
    runnable+=("$m")
  done
  limit_args=(); [ "$LIMIT" != 0 ] && limit_args=(--limit "$LIMIT")
  # one process for every dataset (a model loads once); datasets without a task 0 skip it with a note
  # a non-zero exit stops the job here, repeating the run's closing summary (exit codes: README, "Reliability")
  if [ ${#runnable[@]} -gt 0 ]; then
    summary="$(mktemp)"
    status=0
    $py lm_steering.py ${DATASETS:+--dataset $DATASETS} --task $TASKS --models "${runnable[@]}" \
      --output_type $OUTPUT_TYPES --output_dir "$RESULTS_DIR" --seed "$SEED" --max_tokens "$MAX_TOKENS" \
      --concurrency "$CONCURRENCY" "${limit_args[@]}" | tee "$summary" || status=$?
    if [ "$status" != 0 ]; then
      case "$status" in
        1) meaning="a model could not start (missing key or package)" ;;
        2) meaning="bad arguments, configuration or I/O" ;;
        3) meaning="some requests failed permanently; run bash job.sh again to retry them" ;;
        4) meaning="every request sent failed" ;;
        *) meaning="stopped" ;;
      esac
      printf '\nStopped at stage 3: lm_steering.py exited %s (%s).\n' "$status" "$meaning" >&2
      grep -v '^[[:space:]]*$' "$summary" | tail -n 3 >&2 || true
      rm -f "$summary"
      exit "$status"
    fi
    rm -f "$summary"
  fi
fi

# Stages 4-7 derive everything from the results folder, the data and the code: when none of them, the settings
# or the derived files changed since the last complete run (a stamp: python -m distalign.stages), they are skipped.
settings="$MODE $SEED $N_BOOTSTRAP"
stamp=(--results_dir "$RESULTS_DIR" --data_dir . --settings "$settings")
fresh=0
$py -m distalign.stages fresh "${stamp[@]}" && fresh=1
unchanged() { echo "up to date: results, data, code and settings unchanged since the last complete run"; }

stage 4/7 "calibrate: temperature scaling (paper fit -> rescaled_model_logprobs, cross-fitted -> _cv)"
if [ "$fresh" = 1 ]; then unchanged; else
  # paper mode keeps the released rescaled files (it reproduces them) and fills in new models only
  $py temperature_scaling.py --results_dir "$RESULTS_DIR" --data_dir . --mode paper --seed "$SEED"
  $py temperature_scaling.py --results_dir "$RESULTS_DIR" --data_dir . --mode fixed --seed "$SEED"
fi

stage 5/7 "evaluate: leaderboards ($MODE mode)"
if [ "$fresh" = 1 ]; then unchanged; else
  $py lm_steering_eval.py --results_dir "$RESULTS_DIR" --data_dir . --output_dir "$RESULTS_DIR" \
    --mode "$MODE" --seed "$SEED" --n_bootstrap "$N_BOOTSTRAP" --quiet
fi

stage 6/7 "figures"
if [ "$fresh" = 1 ]; then unchanged; else
  $py -m distalign.figures --results_dir "$RESULTS_DIR" --output_dir "$RESULTS_DIR/figures"
fi

stage 7/7 "report: $RESULTS_DIR/report/index.html"
if [ "$fresh" = 1 ]; then
  unchanged
  report="$(cd "$RESULTS_DIR/report" && pwd)/index.html"
else
  report="$($py -m distalign.report --results_dir "$RESULTS_DIR" --data_dir .)"
  $py -m distalign.stages record "${stamp[@]}"
fi
cat "$RESULTS_DIR/leaderboard.md"
printf '\nDone in %ds. Figures: %s/figures/\n' $((SECONDS - started)) "$RESULTS_DIR"
printf 'Report (open in a browser, no server needed): %s\n' "$report"
