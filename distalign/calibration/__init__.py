"""Temperature scaling of log-prob outputs: ``model_logprobs`` -> ``rescaled_model_logprobs`` (docs/original.md §6).

A model's letter probabilities p are sharpened or flattened by one temperature T: the scaled vector is
p^(1/T) renormalised (a softmax of log p / T over the letters; letters with p = 0 stay 0). T is chosen to
minimise the summed total variation ½·Σ|scaled − truth| over a pool of (question, demographic) rows: one
pool per (model, dataset, steering task), holding every evaluated demographic.

Two modes:

* ``paper`` reproduces the original fit, artefacts included (docs/original.md §11.1.7): SciPy's bounded Brent
  search over T ∈ (0, 10] on the scored data itself; an all-zero row makes the objective NaN, and the search then
  returns its first probe 3.8197; task0 reads the single no-steering file once per demographic, always against
  ``expected_results_POLPARTY_Democrat``. All-zero rows cannot be rescaled (0/0): they are written with
  ``avg_actual_results: null`` and ``parse_ok: false``, so the evaluation drops them as the original did.
* ``fixed`` excludes all-zero rows from the fit (and counts them), searches log T ∈ [log 0.05, log 100] (a grid,
  then bounded Brent around the best grid point; a flat objective keeps T = 1), and cross-fits: questions are
  split into folds by a seeded Generator, and each question's T is fitted on the other folds, so the score is
  not an oracle. task0 rows pair the no-steering output with each demographic's own stored truth (pairs with a
  different option count are skipped). Every written record carries its ``temperature``.

Modules: :mod:`~distalign.calibration.fit` (the transform, objective and fits; pure) and
:mod:`~distalign.calibration.files` (pools, rescaled result files, the fits CSV). This package re-exports
their public names. Tested in ``tests/test_calibration.py``; the CLI is ``temperature_scaling.py``.
"""

from distalign.calibration.files import (
    PAPER_TASK0_TRUTH,
    SOURCE,
    TARGETS,
    NothingFitted,
    calibrate,
    logprob_models,
    logprob_tasks,
    pool_files,
    pool_rows,
    probabilities,
    rescale_record,
    target_paths,
    write_fits,
    write_pool,
)
from distalign.calibration.fit import (
    ALL_FOLDS,
    FIXED_BOUNDS,
    GRID_POINTS,
    MODES,
    PAPER_BOUNDS,
    Fit,
    Rows,
    assign_folds,
    fit_fixed,
    fit_paper,
    fit_pool,
    rescale,
    summed_tv,
)

__all__ = [
    "ALL_FOLDS",
    "FIXED_BOUNDS",
    "GRID_POINTS",
    "MODES",
    "PAPER_BOUNDS",
    "PAPER_TASK0_TRUTH",
    "SOURCE",
    "TARGETS",
    "Fit",
    "NothingFitted",
    "Rows",
    "assign_folds",
    "calibrate",
    "fit_fixed",
    "fit_paper",
    "fit_pool",
    "logprob_models",
    "logprob_tasks",
    "pool_files",
    "pool_rows",
    "probabilities",
    "rescale",
    "rescale_record",
    "summed_tv",
    "target_paths",
    "write_fits",
    "write_pool",
]
