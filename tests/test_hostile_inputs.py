"""Hostile data and result files, bad flags: one line naming the file (or a counted skip), never a traceback.

* names read from data files that become path components (a demographic ``/tmp/x`` or ``../../x``) are refused
  where they are read, and nothing is written outside the results folder;
* evaluation (both modes) and temperature scaling on wrong-shaped result files: 100,000-level nesting, a folder
  named like a result file, ``avg_actual_results`` as a list, ``expected_results`` as a number or with nulls,
  NaN and infinite values; paper mode refuses stored values outside [0, 1] (TV stays <= 1);
* data counts that overflow, non-regular or oversized files in a fetch source;
* written files get the usual mode (umask, or the existing file's mode);
* numeric flags of every CLI are checked by argparse.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from generate_standins import write_tiny_oqa

from distalign.data.fetch import FetchError, make_reader
from distalign.data.manifest import ManifestRow
from distalign.files import DataError, write_json, write_text
from distalign.names import OQA_WAVE

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import lm_steering  # noqa: E402
import lm_steering_eval  # noqa: E402
import temperature_scaling  # noqa: E402
from distalign.figures import __main__ as figures  # noqa: E402

DATA = f"opinions_qa/data/human_resp/{OQA_WAVE}/POLPARTY_data.json"
T1 = f"opinionqa/model_logprobs/fake__oracle/task1/{OQA_WAVE}"


def generate(data: Path, results: Path, *extra: str) -> int:
    argv = ["--no_progress", "--models", "fake/oracle", "--dataset", "opinionqa", "--task", "1"]
    argv += ["--output_type", "model_logprobs", "--data_dir", str(data), "--results_dir", str(results), "--no_cache"]
    return lm_steering.main([*argv, *extra])


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    data = tmp_path / "data"
    write_tiny_oqa(data)
    assert generate(data, tmp_path / "results") == 0
    capsys.readouterr()
    return data, tmp_path / "results"


@pytest.mark.parametrize("name", ["/tmp/distalign-escape", "../../../../tmp/distalign-escape", ".hidden", ""])
def test_demographic_names_from_data_cannot_escape_the_results_folder(tmp_path, capsys, name: str) -> None:
    data = tmp_path / "data"
    write_tiny_oqa(data)
    raw = json.loads((data / DATA).read_text())
    for rec in raw.values():
        rec[name] = {"Agree": 1.0, "Disagree": 2.0, "Refused": 0.0}
    (data / DATA).write_text(json.dumps(raw))
    escape = Path("/tmp/distalign-escape.json")
    escape.unlink(missing_ok=True)
    code = generate(data, tmp_path / "results", "--all_demographics", "--demographic_groups", "POLPARTY")
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {data / DATA}: demographic {name!r} cannot name a file"), err
    assert not escape.exists() and not list((tmp_path / "results").rglob("*.json"))


def evaluate(data: Path, results: Path, out: Path, mode: str) -> int:
    argv = ["--results_dir", str(results), "--data_dir", str(data), "--output_dir", str(out), "--no_human"]
    return lm_steering_eval.main([*argv, "--quiet", "--mode", mode, "--n_bootstrap", "20"])


def calibrate(data: Path, results: Path, mode: str) -> int:
    return temperature_scaling.main(["--results_dir", str(results), "--data_dir", str(data), "--mode", mode])


def each_record(change: Any) -> Any:
    return lambda recs: {q: change(dict(r)) for q, r in recs.items()}


def with_field(name: str, value: Any) -> Any:
    return each_record(lambda r: {**r, name: value})


SHAPES = {
    "nested": lambda recs: "[" * 100_000 + "]" * 100_000,
    "folder": None,
    "avg as a list": with_field("avg_actual_results", [0.5, 0.5, 0.0]),
    "expected as a number": with_field("expected_results", 3),
    "expected with nulls": with_field("expected_results", {"A": None, "B": 0.5, "C": 0.5}),
    "NaN": with_field("avg_actual_results", {"A": float("nan"), "B": 0.5, "C": 0.5}),
    "infinity": with_field("avg_actual_results", {"A": float("inf"), "B": 0.5, "C": 0.5}),
    "1e300": with_field("avg_actual_results", {"A": 1e300, "B": 0.5, "C": 0.5}),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_wrong_shaped_result_files_are_counted_or_named(run, tmp_path, capsys, shape: str) -> None:
    data, results = run
    path = results / T1 / "POLPARTY/Democrat.json"
    if SHAPES[shape] is None:
        path.unlink()
        path.mkdir()
    else:
        made = SHAPES[shape](json.loads(path.read_text()))
        path.write_text(made if isinstance(made, str) else json.dumps(made))
    for mode in ("paper", "fixed"):
        assert evaluate(data, results, tmp_path / mode, mode) == 0
        skips = (tmp_path / mode / "eval_skips.csv").read_text()
        assert "POLPARTY,Democrat" in skips or shape == "expected with nulls" and mode == "fixed"
        with open(tmp_path / mode / "leaderboard_distrib_alignment_all.csv", newline="") as fh:
            means = [float(r["Alignment Mean"]) for r in csv.DictReader(fh) if r["Alignment Mean"] not in ("", "nan")]
        assert means and all(0 <= m <= 1 for m in means)  # TV is at most 1
        code = calibrate(data, results, mode)
        err = capsys.readouterr().err
        assert code == 0 or (code == 2 and str(path) in err), err
        assert "Traceback" not in err


def test_overflowing_counts_in_a_data_file_are_named(tmp_path, capsys) -> None:
    data = tmp_path / "data"
    write_tiny_oqa(data)
    raw = json.loads((data / DATA).read_text())
    raw["Q0_W1"]["Democrat"] = {"Agree": 1e308, "Disagree": 1e308, "Refused": 1.0}
    (data / DATA).write_text(json.dumps(raw))
    assert generate(data, tmp_path / "results", "--limit", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {data / DATA}['Q0_W1']['Democrat']: respondent counts too large"), err


def source_row(path: str, size: int) -> ManifestRow:
    return ManifestRow(path, size, "0" * 64, "0" * 64, "verbatim", "https://example.invalid/x")


def test_fetch_refuses_devices_pipes_and_oversized_files(tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(src / "pipe.json")
    (src / "big.json").write_bytes(b"x" * 5000)
    (src / "ok.json").write_bytes(b"x" * 10)
    read = make_reader(str(src))
    for name in ("zero.json", "pipe.json"):
        with pytest.raises(FetchError, match="is not a regular file"):
            read(source_row(name, 10))
    with pytest.raises(FetchError, match="larger than the manifest allows"):
        read(source_row("big.json", 10))
    assert read(source_row("ok.json", 10)) == b"x" * 10


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_usual_mode(tmp_path, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_json(tmp_path / "new.json", {"a": 1})
        existing = tmp_path / "existing.json"
        existing.write_text("{}")
        existing.chmod(0o640)
        write_text(existing, "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o666 & ~umask
    assert existing.stat().st_mode & 0o777 == 0o640


def test_reading_a_folder_or_deep_json_names_the_file(tmp_path) -> None:
    from distalign.files import read_json

    (tmp_path / "x.json").mkdir()
    (tmp_path / "deep.json").write_text("[" * 100_000)
    for name, says in (("x.json", "a folder"), ("deep.json", "nested too deeply")):
        with pytest.raises(DataError, match=says) as e:
            read_json(tmp_path / name)
        assert str(e.value).startswith(str(tmp_path / name))


CLI_FLAGS = [
    (lm_steering.parse_args, ["--models", "fake/oracle"], flag, value)
    for flag, value in [
        ("--temperature", "nan"),
        ("--temperature", "-1"),
        ("--temperature", "inf"),
        ("--max_tokens", "0"),
        ("--timeout", "0"),
        ("--batch_size", "0"),
        ("--seed", "-1"),
        ("--limit", "0"),
        ("--concurrency", "0"),
        ("--n_samples", "0"),
        ("--max_retries", "-1"),
        ("--tensor_parallel_size", "0"),
    ]
] + [
    (temperature_scaling.parse_args, [], "--folds", "0"),
    (temperature_scaling.parse_args, [], "--seed", "-1"),
    (lm_steering_eval.parse_args, [], "--seed", "-1"),
    (lm_steering_eval.parse_args, [], "--n_bootstrap", "0"),
    (figures.main, [], "--seed", "-1"),
]


@pytest.mark.parametrize(("parse", "base", "flag", "value"), CLI_FLAGS)
def test_numeric_flags_are_checked_by_argparse(capsys, parse: Any, base: list[str], flag: str, value: str) -> None:
    with pytest.raises(SystemExit) as e:
        parse([*base, flag, value])
    assert e.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
