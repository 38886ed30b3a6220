"""The texts of the README's five extension recipes: new modules, data and templates, each exactly as added.

:mod:`tests.recipes` says where each text goes; docs/extending.md prints the snippets marked ``shown`` there
verbatim (``tests/test_extension.py`` checks it), so not a character of these constants may change on its own.
"""

# ---- a dataset -------------------------------------------------------------------------------------------
PETS_PY = '''"""Pets: a made-up survey of how much urban and rural respondents like pets."""

from distalign.datasets.base import NONE_GROUP, SurveyDataset, from_counts
from distalign.types import SurveyItem

DATA = "pets/data.json"


class Pets(SurveyDataset):
    """Three questions, two groups (urban and rural respondents)."""

    name = "pets"

    def question_ids(self) -> list[str]:
        """Questions in file order."""
        return list(self._json(DATA))

    def demographics(self) -> list[tuple[str, str]]:
        """The evaluated (group, demographic) pairs."""
        return [("AREA", "Urban"), ("AREA", "Rural")]

    def item(self, qid: str, group: str, demographic: str) -> SurveyItem:
        """One cell: the options and, for a group, its respondents' distribution."""
        rec = self._json(DATA)[qid]
        truth = None if group == NONE_GROUP else from_counts(rec[demographic], f"{DATA}[{qid!r}]")
        persona = "" if group == NONE_GROUP else f"{demographic} residents"
        return SurveyItem(self.name, qid, rec["text"], tuple(rec["options"]), group, demographic, persona, truth)

    def neighbours(self, qid: str, group: str, demographic: str) -> list[SurveyItem]:
        """Few-shot candidates, most similar first."""
        return [self.item(n, group, demographic) for n in self._json(DATA)[qid]["similar"]]
'''
PETS_DATA = {
    "DOGS": {
        "text": "How much do you like dogs?",
        "options": ["A lot", "A little", "Not at all"],
        "Urban": [50, 30, 20],
        "Rural": [70, 20, 10],
        "similar": ["CATS", "FISH"],
    },
    "CATS": {
        "text": "How much do you like cats?",
        "options": ["A lot", "A little", "Not at all"],
        "Urban": [40, 40, 20],
        "Rural": [30, 30, 40],
        "similar": ["DOGS", "FISH"],
    },
    "FISH": {
        "text": "Would you keep fish as pets?",
        "options": ["Yes", "No"],
        "Urban": [25, 75],
        "Rural": [10, 90],
        "similar": ["CATS", "DOGS"],
    },
}
PETS_TEMPLATE = "Format of each example:\n\nQuestion: ${question}\nAnswer: ${answer}\n"

# ---- a steering method -----------------------------------------------------------------------------------
ROLEPLAY_PY = '''"""``roleplay`` (task4): the model is told it is one member of the group and answers in that role."""

from distalign.datasets.base import SurveyDataset
from distalign.expression import ExpressionMethod
from distalign.prompts import question_block
from distalign.steering.base import SteeringConfig, audience, templated
from distalign.types import SurveyItem


def roleplay(ds: SurveyDataset, item: SurveyItem, method: ExpressionMethod, cfg: SteeringConfig, examples: str) -> str:
    """task4: "You are a member of ...", the format examples, then the question."""
    aud = audience(ds, item, cfg)
    instruction = f"You are {aud.member}. {ds.opening} {method.task_sentence(aud, 'it')}"
    transition = f"Now answer this question as {aud.member} would, in the same format."
    return templated(cfg, examples, instruction, transition, question_block(ds, item, aud.member))
'''

# ---- an expression method --------------------------------------------------------------------------------
COUNTS_PY = '''"""``express_counts``: how many of 100 group members would choose each option, as a JSON object."""

import json

import numpy as np

from distalign.expression.base import FreeTextMethod, people, truth_probs
from distalign.parsers import parse_verbalized
from distalign.prompts import percentages
from distalign.types import Audience, SurveyItem


class Counts(FreeTextMethod):
    """Counts out of 100 respondents, read like a verbalized distribution (renormalised)."""

    output_type = "express_counts"
    parser = staticmethod(parse_verbalized)
    answer_field = "a JSON object mapping each option letter to a count out of 100"

    def task_sentence(self, audience: Audience | None, target: str) -> str:
        """Ask for counts of 100 respondents."""
        return (
            f"Suppose 100 randomly chosen {people(audience)} answer {target}. Reply with a JSON object that "
            "maps each option letter to how many of the 100 would choose it, and nothing else."
        )

    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        """The true distribution as counts out of 100."""
        counts = percentages(list(truth_probs(item)))
        return json.dumps(dict(zip(item.letters, counts, strict=True)))
'''

# ---- a backend -------------------------------------------------------------------------------------------
TOY_PY = '''"""``toy/<name>``: an in-process toy model that answers every question uniformly.

It needs a token in ``TOY_TOKEN``, declared in its capabilities, so its value is masked in every log, cache
and result file, even though the toy echoes it in each reply.
"""

import json
import os

from distalign.backends.base import Backend, BackendError, BackendOptions
from distalign.types import Capabilities, Completion, Request

KEY_ENV = "TOY_TOKEN"


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """Free text only (no log-probs), computed in this process, free of charge, keyed by TOY_TOKEN."""
    return Capabilities(logprobs=False, in_process=True, priced=False, key_env=(KEY_ENV,))


class ToyBackend(Backend):
    """Uniform answers, in the format the prompt asks for."""

    def __init__(self, model: str, options: BackendOptions) -> None:
        self.name = f"toy/{model}"
        self.capabilities = capabilities(model, options)
        self.token = os.environ.get(KEY_ENV, "")
        if not self.token:
            raise BackendError(f"{self.name} needs {KEY_ENV} in the environment")

    async def complete(self, request: Request) -> Completion:
        """A JSON object of equal percentages when the prompt asks for JSON, else 30 letters in turn."""
        letters = dict(request.meta).get("letters", "AB")
        if "JSON" in request.messages[-1].content:
            text = json.dumps({letter: round(100 / len(letters)) for letter in letters})
        else:
            text = " ".join(letters[i % len(letters)] for i in range(30))
        return Completion(text=f"{text}\\n(token {self.token})", model_id=self.name)


def make_backend(model: str, options: BackendOptions) -> Backend:
    """Registry factory for ``toy/<name>``."""
    return ToyBackend(model, options)
'''

# ---- a metric --------------------------------------------------------------------------------------------
HELLINGER_PY = '''def hellinger_batch(p: FloatArray, q: FloatArray) -> FloatArray:
    """Row-wise Hellinger distance ‖√p − √q‖₂ / √2, in [0, 1].

    >>> hellinger_batch(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([0.5, 0.5])).round(6).tolist()
    [0.541196, 0.0]
    """
    a, b = _rows(p, q)
    return np.sqrt(0.5 * ((np.sqrt(a) - np.sqrt(b)) ** 2).sum(axis=-1))


def hellinger(p: Vector, q: Vector) -> float:
    """Hellinger distance of two probability vectors of the same length (:func:`hellinger_batch`)."""
    return float(hellinger_batch(*_rows(p, q)))

'''
HELLINGER_TEST = """

def test_hellinger_hand_computed() -> None:
    # p = (¼, ¾), q = (¾, ¼): √(½ · 2 · (½ − √3/2)²) = √3/2 − ½
    assert METRICS["hellinger"].fn([0.25, 0.75], [0.75, 0.25]) == pytest.approx(math.sqrt(3) / 2 - 0.5)
"""
