"""Settings are part of the answer: records say what produced them, and a rerun never reuses answers made otherwise.

Every record stores the resolved model, the method, temperature, seed, max_tokens, samples and a digest of the
prompt. A rerun with another temperature, seed, max_tokens or prompt refuses with the file, the difference and
the flags (``--overwrite``, ``--output_dir``), sending nothing; ``--overwrite`` regenerates those records. The
paper's model keys map onto the released folders for the evaluation only: a new run of ``openai/gpt-4-0613``
writes its own folder and never counts the released ``gpt-4`` answers as its own.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from generate_standins import write_tiny_oqa

from distalign.generate.settings import prompt_sha256
from distalign.names import OQA_WAVE
from distalign.types import Message

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import lm_steering  # noqa: E402

CELL = f"opinionqa/{{method}}/{{model}}/task1/{OQA_WAVE}/SEX/Female.json"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_tiny_oqa(tmp_path / "data")
    return tmp_path / "data"


def generate(capsys: pytest.CaptureFixture[str], data: Path, results: Path, *extra: str) -> tuple[int, str]:
    argv = ["--no_progress", "--models", "fake/oracle", "--dataset", "opinionqa", "--task", "1"]
    argv += ["--data_dir", str(data), "--results_dir", str(results), "--limit", "2", "--no_cache"]
    argv += ["--backend_arg", f"call_log={results}.calls", *extra]
    code = lm_steering.main([*argv, *([] if "--output_type" in extra else ["--output_type", "sequence"])])
    out = capsys.readouterr()
    return code, out.out + out.err


def calls(results: Path) -> int:
    path = Path(f"{results}.calls")
    return len(path.read_text().splitlines()) if path.exists() else 0


def cell(results: Path, method: str = "sequence", model: str = "fake__oracle") -> Path:
    return results / CELL.format(method=method, model=model)


def test_every_record_stores_the_settings_that_produced_it(capsys, data, tmp_path) -> None:
    results = tmp_path / "results"
    code, out = generate(
        capsys, data, results, "--output_type", "independent_samples", "--n_samples", "4", "--temperature", "0.7"
    )
    assert code == 0, out
    records = json.loads(cell(results, "independent_samples").read_text())
    assert len(records) == 2
    for rec in records.values():
        s = rec["settings"]
        assert (s["model"], s["method"], s["temperature"], s["seed"], s["samples"]) == (
            "fake/oracle",
            "independent_samples",
            0.7,
            0,
            4,
        )
        assert isinstance(s["max_tokens"], int) and len(s["prompt_sha256"]) == 16
    first, second = records.values()
    assert first["settings"]["prompt_sha256"] != second["settings"]["prompt_sha256"]  # each record its own prompt


@pytest.mark.parametrize(
    ("flag", "value", "difference"),
    [
        ("--temperature", "0.5", "temperature 1.0 (this run: 0.5)"),
        ("--seed", "7", "seed 0 (this run: 7)"),
        ("--max_tokens", "64", "max_tokens 256 (this run: 64)"),
    ],
)
def test_a_rerun_with_other_settings_refuses_then_overwrites_on_request(
    capsys, data, tmp_path, flag: str, value: str, difference: str
) -> None:
    results = tmp_path / "results"
    assert generate(capsys, data, results)[0] == 0
    before, n_calls = cell(results).read_bytes(), calls(results)
    code, out = generate(capsys, data, results, flag, value)
    assert code == 2 and f"error: {results}/opinionqa/sequence/fake__oracle/task1/" in out
    assert ".json: 2 of 2 stored records were made with other settings" in out
    assert difference in out and "--overwrite" in out and "--output_dir" in out
    assert cell(results).read_bytes() == before and calls(results) == n_calls  # nothing sent, nothing written
    code, out = generate(capsys, data, results, flag, value, "--overwrite")
    assert code == 0, out
    stored = [r["settings"][flag.lstrip("-")] for r in json.loads(cell(results).read_text()).values()]
    assert stored == [float(value) if flag == "--temperature" else int(value)] * 2
    assert calls(results) > n_calls
    code, out = generate(capsys, data, results, flag, value)
    assert code == 0 and "0 sent" in out and "12 already done" in out


def test_a_changed_prompt_template_is_not_reused(capsys, data, tmp_path) -> None:
    results, prompts = tmp_path / "results", tmp_path / "prompts"
    shutil.copytree(REPO / "inputs", prompts, ignore=shutil.ignore_patterns("authors"))
    assert generate(capsys, data, results, "--prompts_dir", str(prompts))[0] == 0
    template = prompts / "opinion_surveys/sequence/prompt_task1.txt"
    template.write_text(template.read_text().replace("Question", "Survey question", 1))
    code, out = generate(capsys, data, results, "--prompts_dir", str(prompts))
    assert code == 2 and "the prompt text differs" in out


def test_records_without_settings_are_not_counted_as_done(capsys, data, tmp_path) -> None:
    results = tmp_path / "results"
    assert generate(capsys, data, results)[0] == 0
    path = cell(results)
    records = json.loads(path.read_text())
    path.write_text(json.dumps({q: {k: v for k, v in r.items() if k != "settings"} for q, r in records.items()}))
    code, out = generate(capsys, data, results)
    assert code == 2 and "no stored settings" in out


def test_paper_aliases_map_to_released_folders_only_for_evaluation(capsys, data, tmp_path) -> None:
    results = tmp_path / "results"
    released = cell(results, "model_logprobs", "gpt-4")  # the released GPT-4 answers of this cell
    released.parent.mkdir(parents=True)
    answer = {"avg_actual_results": {"A": 1.0, "B": 0.0, "C": 0.0}, "expected_results": {}, "response": ["A"]}
    released.write_text(json.dumps({"Q0_W1": answer, "Q1_W1": answer}))
    for model in ("openai/gpt-4-0613", "gpt-4"):
        argv = ["--no_progress", "--models", model, "--dataset", "opinionqa", "--task", "1", "--limit", "2"]
        argv += ["--output_type", "model_logprobs", "--data_dir", str(data), "--results_dir", str(results)]
        assert lm_steering.main([*argv, "--dry_run"]) == 0
        table = capsys.readouterr().out
        assert " 12 " in table.splitlines()[1]  # 2 questions x 6 demographics, none done
    assert not (results / "opinionqa/model_logprobs/openai__gpt-4-0613").exists()  # a dry run writes nothing


def test_prompt_digest_depends_on_roles_and_text() -> None:
    a = [Message("system", "You answer."), Message("user", "Q")]
    assert prompt_sha256(a) == prompt_sha256(list(a))
    assert prompt_sha256(a) != prompt_sha256([Message("user", "You answer."), Message("user", "Q")])
    assert prompt_sha256(a) != prompt_sha256([a[1], a[0]]) and prompt_sha256(a) != prompt_sha256(a[:1])


@pytest.mark.data
@pytest.mark.skipif(not (REPO / "opinions_qa/data").is_dir(), reason="needs the fetched data")
def test_a_structured_cell_is_reused_whatever_each_question_budget(capsys, tmp_path) -> None:
    results = tmp_path / "results"
    argv = ["--no_progress", "--models", "fake/oracle", "--dataset", "opinionqa", "--task", "1", "--limit", "6"]
    argv += ["--output_type", "express_distribution_structured", "--results_dir", str(results), "--no_cache"]
    assert lm_steering.main([*argv, "--max_tokens", "8"]) == 0
    stored = json.loads(cell(results, "express_distribution_structured").read_text())
    assert len({r["settings"]["max_tokens"] for r in stored.values()}) > 1  # the budget follows the options shown
    capsys.readouterr()
    assert lm_steering.main([*argv, "--max_tokens", "8"]) == 0  # every question checked against its own budget
    assert "0 sent" in capsys.readouterr().out
    assert lm_steering.main([*argv, "--max_tokens", "300"]) == 2  # above every budget: each record differs
    assert "6 of 6 stored records were made with other settings (max_tokens" in capsys.readouterr().err
