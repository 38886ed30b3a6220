"""The vocabulary of distalign: every noun the pipeline passes around (docs/original.md §0, §2, §3, §5).

All types are frozen dataclasses so they can be hashed, cached and compared. Read this file
first: the rest of the package is functions over these types.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

LETTERS = string.ascii_uppercase  # option letters A, B, C, ... in prompt order


def letters(k: int) -> tuple[str, ...]:
    """The first ``k`` option letters.

    >>> letters(3)
    ('A', 'B', 'C')
    """
    if not 0 <= k <= len(LETTERS):
        raise ValueError(f"cannot letter {k} options (at most {len(LETTERS)})")
    return tuple(LETTERS[:k])


@dataclass(frozen=True)
class Distribution:
    """A probability vector over lettered options (``probs[i]`` belongs to ``letters[i]``).

    Values are stored as given: a parsed model output may not sum to one (docs/original.md §3).
    """

    letters: tuple[str, ...]
    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.letters) != len(self.probs):
            raise ValueError(f"{len(self.letters)} letters but {len(self.probs)} probabilities")

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> Distribution:
        """Build from a ``{letter: p}`` mapping, keeping its key order."""
        return cls(tuple(d), tuple(float(v) for v in d.values()))

    def as_dict(self) -> dict[str, float]:
        """The ``{letter: p}`` mapping used in result files."""
        return dict(zip(self.letters, self.probs, strict=True))

    @property
    def total(self) -> float:
        """Sum of the probabilities (1 for a proper distribution)."""
        return float(sum(self.probs))


@dataclass(frozen=True)
class SurveyItem:
    """One (question, demographic) cell: what the prompt shows and the human ground truth.

    Attributes:
        dataset: dataset key (``opinionqa``, ``nytimes``, ``globalvalues``).
        qid: question key as in the data files and result files.
        text: question text (for GlobalValues the key itself).
        options: option texts in prompt order; option ``i`` gets letter ``LETTERS[i]``.
        group: demographic group (file level): ``POLPARTY``, ``SEX``, ``RACE``, ``NONE``, ``globalvalues``.
        demographic: demographic key within the group (``Democrat``, ``Male``, GlobalValues ``"0"``).
        persona: the name shown in persona prompts (``Democrat``; GlobalValues: the country name).
        truth: the human distribution over ``options`` (``None`` when there is none, e.g. no steering).
        details: extra labelled fields shown before the question (NYT title, genre, summary).
    """

    dataset: str
    qid: str
    text: str
    options: tuple[str, ...]
    group: str
    demographic: str
    persona: str
    truth: Distribution | None = None
    details: tuple[tuple[str, str], ...] = ()

    @property
    def letters(self) -> tuple[str, ...]:
        """Option letters in prompt order."""
        return letters(len(self.options))


@dataclass(frozen=True)
class Audience:
    """Who a steered prompt is about, as noun phrases.

    Attributes:
        members: plural: ``members of the group "Democrat"``, ``people from Jordan``.
        one: singular, without article: ``member of the group "Democrat"``, ``person from Jordan``.
    """

    members: str
    one: str

    @property
    def member(self) -> str:
        """Singular with its article: ``a member of the group "Democrat"``."""
        return f"a {self.one}"


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Capabilities:
    """What a backend/model accepts; checked before a run (unsupported pairs become "n/a" rows).

    Attributes:
        logprobs: returns next-token log-probabilities of the first generated token.
        max_top_logprobs: how many alternatives per position (OpenAI: 20).
        temperature: accepts a ``temperature`` parameter.
        top_p: accepts a ``top_p`` parameter.
        temperature_with_top_p: accepts both in the same request.
        seed: accepts a sampling seed (best effort on APIs).
        json_output: supports a JSON / structured output mode.
        n_samples: can return several samples of one prompt in one call.
        chat_template: the model is a chat model (messages are templated).
        batch_api: has an asynchronous batch API.
        option_scores: can score given continuations exactly (local models: ``option_likelihood``).
        exact_letter_probs: log-probs are exact over the full vocabulary (local models), not top-k.
        in_process: the model computes in this process (no per-request time limit: cancelling an attempt
            would not stop the computation).
        priced: requests cost money (the price table applies; a model missing from it is "cost unknown").
        key_env: environment variables the backend reads secrets from (their values are masked everywhere).
        constraints: the :class:`Constraint` kinds the backend enforces while decoding (structured outputs).
    """

    logprobs: bool = False
    max_top_logprobs: int = 0
    temperature: bool = True
    top_p: bool = True
    temperature_with_top_p: bool = True
    seed: bool = False
    json_output: bool = False
    n_samples: bool = False
    chat_template: bool = True
    batch_api: bool = False
    option_scores: bool = False
    exact_letter_probs: bool = False
    in_process: bool = False
    priced: bool = False
    key_env: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()


CONSTRAINT_KINDS = ("json_schema", "regex")


@dataclass(frozen=True)
class Constraint:
    """A decoding constraint: the reply must match it (structured outputs, constrained decoding).

    Attributes:
        kind: ``json_schema`` (``spec`` is a JSON schema, as JSON text) or ``regex`` (``spec`` is a regular
            expression the whole reply must match).
        spec: the schema or the pattern.
    """

    kind: str
    spec: str

    def __post_init__(self) -> None:
        if self.kind not in CONSTRAINT_KINDS:
            raise ValueError(f"unknown constraint kind {self.kind!r}; valid: {', '.join(CONSTRAINT_KINDS)}")


@dataclass(frozen=True)
class Request:
    """One model call, fully specified (its hash is the cache key together with the backend).

    Attributes:
        messages: the chat messages.
        max_tokens: generation budget.
        temperature: sampling temperature (``None``: the backend default / not sent).
        top_logprobs: number of first-token alternatives wanted (0: none).
        letters: option letters whose first-token probabilities are wanted (exact backends).
        continuations: option texts to score by log-likelihood (``option_likelihood``).
        stop: stop sequences.
        seed: sampling seed, when the backend supports one.
        sample_index: which of several independent samples of the same prompt this is.
        constraint: what the reply must match (structured methods); ``None`` for free text.
        meta: bookkeeping that is never sent to the model and not part of equality or the cache key
            (dataset, qid, group, demographic; the truth for the ``fake/oracle`` test backend).
    """

    messages: tuple[Message, ...]
    max_tokens: int = 256
    temperature: float | None = 1.0
    top_logprobs: int = 0
    letters: tuple[str, ...] = ()
    continuations: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    seed: int | None = None
    sample_index: int = 0
    constraint: Constraint | None = None
    meta: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Completion:
    """What a backend returned for one request.

    Attributes:
        text: the generated text ("" when none).
        top_logprobs: (token, logprob) alternatives at the first answer token.
        continuation_logprobs: per ``Request.continuations``, the length-normalised log-likelihood.
        model_id: the model the server says answered.
        fingerprint: ``system_fingerprint`` or similar, when given.
        input_tokens: prompt tokens billed.
        output_tokens: completion tokens billed.
        latency_s: wall time of the call.
        finish_reason: why generation stopped.
    """

    text: str = ""
    top_logprobs: tuple[tuple[str, float], ...] = ()
    continuation_logprobs: tuple[float, ...] = ()
    model_id: str = ""
    fingerprint: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str = ""


@dataclass(frozen=True)
class Parsed:
    """A parsed model output: a distribution, or an explicit failure kept as data.

    Attributes:
        dist: the distribution over the item's letters (``None`` when parsing failed).
        parse_ok: whether the output could be turned into a distribution.
        reason: why parsing failed or what was unusual ("" when clean).
        response: the (processed) response text stored in result files.
        extra: method-specific facts (covered probability mass, missing letters, valid answer count).
    """

    dist: Distribution | None
    parse_ok: bool
    reason: str = ""
    response: str = ""
    extra: tuple[tuple[str, float | str], ...] = field(default=())


@dataclass(frozen=True)
class TVRow:
    """Per-(model, method, task, dataset, demographic) evaluation row (docs/original.md §7.3)."""

    task: str
    model: str
    dataset: str
    wave: str
    group: str
    demographic: str
    output_type: str
    tvs: tuple[float, ...]
    qids: tuple[str, ...] = ()
    n_skipped: int = 0
    n_parse_fail: int = 0
    positions: tuple[int, ...] = ()  # where each of ``qids`` stands in its result file (0-based, file order)
