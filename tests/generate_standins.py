"""Stand-ins for the generation tests: a tiny OpinionQA-format data folder and minimal prompt/method plug-ins.

The stand-in prompts and methods keep the tests of the run engine independent of the real prompt
templates (distalign.steering / distalign.expression); the end-to-end tests use the real ones.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from distalign.datasets.base import SurveyDataset
from distalign.expression import get_method
from distalign.expression.base import ExpressionMethod, MethodConfig
from distalign.generate import Plugins, RunConfig
from distalign.names import OQA_POOL, OQA_WAVE
from distalign.parsers import parse_logprobs, parse_option_scores, parse_samples, parse_sequence, parse_verbalized
from distalign.results import scan
from distalign.steering import SteeringConfig
from distalign.types import Audience, Capabilities, Completion, Message, Parsed, Request, SurveyItem

OPTIONS = ("Agree", "Disagree", "Refused")
DEMS = {"POLPARTY": ("Democrat", "Republican", "Independent"), "SEX": ("Male", "Female"), "RACE": ("Black", "White")}


def counts(q: int, dem: str) -> dict[str, float]:
    """Deterministic respondent counts (alphabetical option keys, as the OQA files store them)."""
    seed = q * 7 + len(dem) * 3 + ord(dem[0])
    return {o: float(1 + (seed * (i + 2)) % 9) for i, o in enumerate(sorted(OPTIONS))}


def write_tiny_oqa(root: Path, n: int = 6) -> list[str]:
    """An OpinionQA-format data folder with ``n`` questions; question 2 has no Male respondents."""
    qids = [f"Q{q}_W1" for q in range(n)]
    for wave in (OQA_WAVE, OQA_POOL):
        folder = root / "opinions_qa/data/human_resp" / wave
        folder.mkdir(parents=True, exist_ok=True)
        for group, dems in DEMS.items():
            data = {}
            for q, qid in enumerate(qids):
                rec: dict = {"MC_options": list(OPTIONS), "question_text": f"Do you agree with statement {q}?"}
                rec.update({d: ({} if (q == 2 and d == "Male") else counts(q, d)) for d in dems})
                data[qid] = rec
            (folder / f"{group}_data.json").write_text(json.dumps(data))
        sim = {qid: [other for other in qids if other != qid][:5] for qid in qids}
        (folder / "question_similarity_top10.json").write_text(json.dumps(sim))
    return qids


def persona_name(item: SurveyItem, cfg: SteeringConfig) -> str:
    names = {"Democrat": "Foo", "Republican": "Baz"}
    return names.get(item.demographic, "Bar") if cfg.ficticious_group else item.persona


def build_messages(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> tuple[Message, ...]:
    if not item.options:
        raise ValueError(f"{item.qid}: no options")
    who = f"Answer as a {persona_name(item, cfg)}.\n" if item.persona else ""
    opts = "\n".join(f"{L}. {o}" for L, o in zip(item.letters, item.options, strict=True))
    return (
        Message("system", "You are a helpful assistant."),
        Message("user", f"[{output_type} {cfg.task}]\n{who}Question: {item.text}\n{opts}\nAnswer:"),
    )


class Method(ExpressionMethod):
    def __init__(self, output_type: str) -> None:
        self.output_type = output_type

    def unsupported(self, caps: Capabilities) -> str | None:
        if self.output_type == "model_logprobs" and not caps.logprobs:
            return "the backend returns no log-probabilities"
        if self.output_type == "option_likelihood" and not caps.option_scores:
            return "the backend cannot score options"
        return None

    def requests(
        self,
        item: SurveyItem,
        messages: tuple[Message, ...],
        cfg: MethodConfig,
        *,
        caps: Capabilities | None = None,
        task: str = "",
    ) -> list[Request]:
        base = Request(messages, max_tokens=64, temperature=cfg.temperature, seed=cfg.seed)
        if self.output_type == "model_logprobs":
            return [Request(messages, max_tokens=1, temperature=cfg.temperature, top_logprobs=cfg.top_logprobs)]
        if self.output_type == "option_likelihood":
            return [Request(messages, max_tokens=0, continuations=item.options)]
        if self.output_type == "independent_samples":
            return [
                Request(messages, max_tokens=2, temperature=cfg.temperature, seed=cfg.seed, sample_index=i)
                for i in range(cfg.n_samples)
            ]
        return [base]

    def task_sentence(self, audience: Audience | None, target: str) -> str:
        return f"Answer {target}."

    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        return item.letters[0]

    def record_extra(self, item: SurveyItem, completions: list[Completion]) -> dict[str, Any]:
        return get_method(self.output_type).record_extra(item, completions)

    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        letters = item.letters
        c = completions[0]
        if self.output_type == "model_logprobs":
            return replace(parse_logprobs(c.top_logprobs, letters), response=c.text)
        if self.output_type == "option_likelihood":
            return parse_option_scores(c.continuation_logprobs, letters)
        if self.output_type == "independent_samples":
            return parse_samples([x.text for x in completions], letters)
        if self.output_type == "sequence":
            return parse_sequence(c.text, letters)
        return parse_verbalized(c.text, letters)


def plugins(**overrides: object) -> Plugins:
    """Stand-in plug-ins (real backends registry unless overridden)."""
    fields = dict(
        build_messages=build_messages, persona_name=persona_name, steering_config=SteeringConfig, get_method=Method
    )
    fields.update(overrides)
    return Plugins(**fields)  # type: ignore[arg-type]


# ---- shared helpers of the generation tests -----------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
ALL_DEMS = [
    ("POLPARTY", "Democrat"),
    ("POLPARTY", "Republican"),
    ("SEX", "Male"),
    ("SEX", "Female"),
    ("RACE", "Black"),
    ("RACE", "White"),
]


def config(tmp_path: Path, data: Path, **kw: Any) -> RunConfig:
    """A run over the tiny data with the stand-ins' defaults (one model, one method, persona)."""
    base: dict[str, Any] = dict(
        datasets=("opinionqa",),
        tasks=(1,),
        models=("fake/oracle",),
        output_types=("model_logprobs",),
        results_dir=tmp_path / "results",
        data_dir=data,
        prompts_dir=REPO / "inputs",
        cache_path=tmp_path / "cache.sqlite",
        progress=False,
    )
    base.update(kw)
    return RunConfig(**base)


def oqa_file(cfg: RunConfig, ot: str, task: str, group: str, dem: str, model: str = "fake__oracle") -> Path:
    """The result file of an OpinionQA cell."""
    return (
        cfg.results_dir
        / "opinionqa"
        / ot
        / model
        / task
        / "Pew_American_Trends_Panel_disagreement_100"
        / group
        / f"{dem}.json"
    )


def result_bytes(root: Path) -> dict[str, bytes]:
    """Every result file's bytes by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for _, p in scan(root)}


def tv(a: Any, b: Any) -> float:
    """Total variation of two vectors."""
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())
