"""The HTML report without a browser: the numbers are the CSVs', output is deterministic, escaped and within budget.

The results folder is ``tests/report_fixtures.py``'s: a new run with request logs (fake/oracle, fake/garbage), a
released-style model without a log, and a hostile reply on both paths. The browser tests are in
``tests/test_report_browser.py``.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from distalign.evaluation import Evaluation
from distalign.evaluation.base import Context
from distalign.evaluation.leaderboards import build
from distalign.evaluation.tally import Tally
from distalign.report import build_report
from distalign.report.__main__ import main
from distalign.report.cells import Sources, eval_rows, model_cells
from distalign.report.explorer import pages
from distalign.report.inputs import read_outputs, settings_of
from distalign.report.logs import read_logs
from distalign.report.render import PAGE_BUDGET
from distalign.types import TVRow
from tests.report_fixtures import HOSTILE, RELEASED, make_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return make_report(tmp_path_factory.mktemp("report"))


def page(paths, name: str) -> str:
    return (paths.output_dir / name).read_text(encoding="utf-8")


def data_of(html: str) -> dict:
    """The explorer's JSON as the browser parses it."""
    return json.loads(html.split('<script type="application/json" id="cells-data">', 1)[1].split("</script>", 1)[0])


def test_every_page_is_written_within_budget(report):
    names = sorted(p.name for p in report.output_dir.iterdir())
    assert {"index.html", "differences.html", "explore.html", "health.html"} <= set(names)
    assert f"explore-{RELEASED}-opinionqa.html" in names and "explore-fake__oracle-nytimes.html" in names
    assert all((report.output_dir / n).stat().st_size <= PAGE_BUDGET for n in names)


def test_same_inputs_give_the_same_bytes_and_stale_pages_go(report, tmp_path):
    before = {p.name: p.read_bytes() for p in report.output_dir.iterdir()}
    (report.output_dir / "explore-gone-opinionqa.html").write_text("old", encoding="utf-8")
    build_report(report, log=lambda _: None)
    assert {p.name: p.read_bytes() for p in report.output_dir.iterdir()} == before


def test_leaderboard_numbers_are_the_csvs(report):
    html = page(report, "index.html")
    head = pd.read_csv(report.eval_dir / "leaderboard_distrib_alignment.csv")
    for _, line in head[head["Alignment Mean"].notna()].iterrows():
        assert f"{line['Alignment Mean']:.4f} ± {line['Alignment Error']:.4f}" in html
    assert 'data-view="three|task1_task3"' in html and 'data-view="nytimes|task1"' in html
    assert "Mode <b>fixed</b>" in html and "seed <b>0</b>" in html and "<b>200</b> bootstrap resamples" in html


def test_untrusted_text_never_reaches_the_page_as_markup(report):
    for name in (f"explore-{RELEASED}-opinionqa.html", "explore-fake__garbage-opinionqa.html"):
        html = page(report, name)
        assert "window.__pwned" in html  # the reply is there ...
        assert "<script>window.__pwned" not in html and "<img src=x" not in html  # ... but never as markup
        assert any(cell[9] == HOSTILE for cell in data_of(html)["cells"])


def test_released_replies_come_from_the_result_file_and_new_ones_from_the_log(report):
    released = data_of(page(report, f"explore-{RELEASED}-opinionqa.html"))
    assert released["prompts"] == [] and all(cell[11] == -1 for cell in released["cells"])
    failed = [cell for cell in released["cells"] if not cell[5]]
    assert [(cell[9], cell[8]) for cell in failed] == [(HOSTILE, None)] and failed[0][10]
    oracle = data_of(page(report, "explore-fake__oracle-opinionqa.html"))
    assert oracle["prompts"] and all(cell[11] >= 0 for cell in oracle["cells"])
    assert any("[user]" in p and "q1" in p.lower() or "Question q1?" in p for p in oracle["prompts"])


def test_explorer_lists_cells_worst_first_with_the_csv_scores(report):
    data = data_of(page(report, "explore-fake__garbage-nytimes.html"))
    scores = [cell[4] for cell in data["cells"]]
    assert scores == sorted(scores, reverse=True)
    rows = pd.read_csv(report.eval_dir / "eval_disagreement_bootstrapping.csv")
    mine = rows[(rows["Model"] == "fake__garbage") & (rows["Dataset"] == "nytimes")]
    assert sorted(scores) == sorted(round(t, 4) for tvs in mine["all_tvs"] for t in json.loads(tvs))
    assert set(data["methods"]) == {"V", "Seq", "Log-p"} and not any(cell[5] for cell in data["cells"])


def test_health_counts_requests_and_flags_the_broken_model(report):
    html = page(report, "health.html")
    rows = re.findall(r'<tr class="health-(\w+)">\s*<td>([^<]+)</td><td>([^<]+)</td>', html)
    status = {(model, method): s for s, model, method in rows}
    assert status[("fake__garbage", "V")] == "broken" and status[("fake__oracle", "V")] == "ok"
    log = (report.results_dir / "logs" / "fake__oracle.jsonl").read_text(encoding="utf-8").splitlines()
    v_requests = sum(json.loads(line)["output_type"] == "express_distribution" for line in log)
    assert f'<td data-sort="{v_requests}">{v_requests}<span class="sub">{v_requests} sent · 1 run</span>' in html
    assert "no request log (released generations)" in html


@pytest.fixture(scope="module")
def oracle_nyt(report):
    """The cells of fake/oracle on NYT, as the explorer builds them."""
    logs = read_logs(report.results_dir / "logs")
    sources = Sources(report.results_dir, Context(report.data_dir), "fixed", logs)
    return model_cells(sources, eval_rows(read_outputs(report.eval_dir).cells)[("fake__oracle", "nytimes")])


def test_pages_split_by_method_then_steering_when_over_budget(oracle_nyt):
    assert pages("m", "nytimes", oracle_nyt, "TV", "fixed")[0].part == ""
    by_method = pages("m", "nytimes", oracle_nyt, "TV", "fixed", budget=110_000)
    assert sorted(p.part for p in by_method) == ["Log-p", "Seq", "V"]
    by_steering = pages("m", "nytimes", oracle_nyt, "TV", "fixed", budget=70_000)
    assert {p.part for p in by_steering} >= {"V · persona", "V · no steering"}
    for split in (by_method, by_steering):
        assert sorted(id(c) for p in split for c in p.cells) == sorted(map(id, oracle_nyt))
        assert len({p.file for p in split}) == len(split)


def test_settings_are_read_from_the_markdown_the_evaluation_writes():
    rows = [TVRow("task1", "gpt-4", "opinionqa", "w", "G", "g", "sequence", (0.1, 0.3), ("q1", "q2"))]
    settings = settings_of(build(Evaluation("paper", 7, rows, [], Tally()), 321).markdown)
    assert (settings.mode, settings.seed, settings.resamples, settings.metric) == ("paper", "7", "321", "tv")


def test_cli_prints_the_index_and_names_a_missing_csv(report, tmp_path, capsys):
    copy = tmp_path / "results"
    shutil.copytree(report.results_dir, copy)
    args = ["--results_dir", str(copy), "--data_dir", str(report.data_dir)]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == str((copy / "report" / "index.html").resolve())
    (copy / "leaderboard_distrib_alignment.csv").unlink()
    assert main(args) == 2
    assert (
        "leaderboard_distrib_alignment.csv not found (written by python lm_steering_eval.py" in capsys.readouterr().err
    )


def test_a_hostile_model_name_is_escaped_everywhere(report, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(report.results_dir, copy, ignore=shutil.ignore_patterns("report"))
    hostile = "<b onmouseover=x()>m</b>"
    for name in ("leaderboard_distrib_alignment.csv", "leaderboard_distrib_alignment_all.csv"):
        path = copy / name
        path.write_text(path.read_text(encoding="utf-8").replace(RELEASED, hostile), encoding="utf-8")
    build_report(replace(report, results_dir=copy, eval_dir=copy, output_dir=copy / "report"), log=lambda _: None)
    html = (copy / "report" / "index.html").read_text(encoding="utf-8")
    assert hostile not in html and "&lt;b onmouseover=x()&gt;m&lt;/b&gt;" in html


def test_an_evaluation_without_positions_still_gives_a_report(report, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(report.results_dir, copy, ignore=shutil.ignore_patterns("report"))
    (copy / "eval_positions.csv").unlink()
    build_report(replace(report, results_dir=copy, eval_dir=copy, output_dir=copy / "report"), log=lambda _: None)
    assert "eval_positions.csv is missing or out of date" in (copy / "report" / "explore.html").read_text()
    assert not list((copy / "report").glob("explore-*.html"))
