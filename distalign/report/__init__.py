"""The results report: static HTML pages to look at a run (``python -m distalign.report --results_dir results``).

Derived from the evaluation's CSVs (:mod:`distalign.evaluation.leaderboards`; no score is recomputed), the result
files and the request logs, one module per page kind: :mod:`~distalign.report.leaderboard` (``index.html``),
:mod:`~distalign.report.differences` (``differences.html``), :mod:`~distalign.report.explorer` (the question
explorer, with :mod:`~distalign.report.cells` joining scores, records and logs) and :mod:`~distalign.report.health`
(``health.html``). :mod:`~distalign.report.build` writes them all; :mod:`~distalign.report.render` holds the
Jinja2 environment (autoescaping on: model replies are untrusted text) and the page budget. The pages open from
``file://`` with no server and no network.
"""

from __future__ import annotations

from distalign.report.build import Paths, build_report

__all__ = ["Paths", "build_report"]
