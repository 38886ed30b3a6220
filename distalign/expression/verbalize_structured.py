"""``express_distribution_structured`` (V-S): the V prompt, with the reply constrained to the distribution's schema.

Not in the paper: the structured twin of :mod:`distalign.expression.verbalize` (docs/original.md §3.3). The prompt is
V's (same templates, same example answers); the backend must enforce a JSON schema while decoding: an object whose
required keys are exactly the letters shown, each a number from 0 to 100 (the prompt's whole percentages), and no
other key. The reply is read and normalised as V's is (:func:`distalign.parsers.parse_verbalized`), so V vs V-S
measures format-following alone. A reply that satisfies the schema can still fail to parse (all values zero).

>>> import json
>>> item = SurveyItem("nytimes", "q", "q", ("x", "y"), "SEX", "Male", "Male")
>>> schema = json.loads(VerbalizeStructured().constraint(item, "json_schema").spec)
>>> schema["required"], schema["properties"]["A"], schema["additionalProperties"]
(['A', 'B'], {'type': 'number', 'minimum': 0, 'maximum': 100}, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distalign.expression.constrained import ConstrainedMethod, schema_text
from distalign.expression.verbalize import Verbalize
from distalign.types import Constraint, SurveyItem


def distribution_schema(letters: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of a V-S reply: every letter shown, a percentage each, nothing else."""
    value = {"type": "number", "minimum": 0, "maximum": 100}
    return {
        "type": "object",
        "properties": {letter: dict(value) for letter in letters},
        "required": list(letters),
        "additionalProperties": False,
    }


class VerbalizeStructured(ConstrainedMethod, Verbalize):
    """A verbalized percentage distribution, decoded under its JSON schema."""

    output_type = "express_distribution_structured"
    prompt_of = "express_distribution"
    forms = ("json_schema",)

    def constraint(self, item: SurveyItem, kind: str) -> Constraint:
        """The schema of ``item``'s letters."""
        return Constraint("json_schema", schema_text(distribution_schema(item.letters)))

    def budget(self, item: SurveyItem, kind: str) -> int:
        """About 8 tokens per ``"A": 25,`` pair (some spacing allowed), plus braces."""
        return 16 + 10 * len(item.letters)
