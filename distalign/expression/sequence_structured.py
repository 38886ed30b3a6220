"""``sequence_structured`` (Seq-S): the Seq prompt, with the reply constrained to 30 answers from the letters shown.

Not in the paper: the structured twin of :mod:`distalign.expression.sequence` (docs/original.md §3.1). The prompt is
Seq's (same templates, same example answers). Where the backend enforces a regular expression, the reply must be
exactly 30 letters of the options shown separated by single spaces, the syntax the prompt asks for; where it only
enforces JSON schemas, the reply is ``{"answers": [...]}`` with exactly 30 such letters. Each record says which form
was used (``"constraint": "regex"`` or ``"json_schema"``). Both forms are read by
:func:`distalign.parsers.parse_answer_list` and counted as Seq's answers are.

>>> item = SurveyItem("nytimes", "q", "q", ("x", "y"), "SEX", "Male", "Male")
>>> SequenceStructured().constraint(item, "regex").spec
'[AB]( [AB]){29}'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distalign.expression.constrained import ConstrainedMethod, schema_text
from distalign.expression.sequence import Sequence as SequenceMethod
from distalign.parsers import SEQUENCE_LENGTH as N
from distalign.parsers import parse_answer_list
from distalign.types import Constraint, SurveyItem


def answers_regex(letters: Sequence[str], n: int = N) -> str:
    """``n`` letters of ``letters`` separated by single spaces, as a regular expression (the whole reply).

    >>> import re
    >>> bool(re.fullmatch(answers_regex("ABC", 3), "A C C")), bool(re.fullmatch(answers_regex("ABC", 3), "A C"))
    (True, False)
    """
    letter = "[" + "".join(letters) + "]"
    return f"{letter}( {letter}){{{n - 1}}}"


def answers_schema(letters: Sequence[str], n: int = N) -> dict[str, Any]:
    """The JSON schema ``{"answers": [letter x n]}`` for backends that take schemas only."""
    items = {"type": "array", "items": {"type": "string", "enum": list(letters)}, "minItems": n, "maxItems": n}
    return {"type": "object", "properties": {"answers": items}, "required": ["answers"], "additionalProperties": False}


class SequenceStructured(ConstrainedMethod, SequenceMethod):
    """A sequence of 30 answer letters, decoded under a regular expression (or a JSON schema)."""

    output_type = "sequence_structured"
    prompt_of = "sequence"
    parser = staticmethod(parse_answer_list)
    forms = ("regex", "json_schema")

    def constraint(self, item: SurveyItem, kind: str) -> Constraint:
        """The regex or the schema of ``item``'s letters."""
        if kind == "regex":
            return Constraint("regex", answers_regex(item.letters))
        return Constraint("json_schema", schema_text(answers_schema(item.letters)))

    def budget(self, item: SurveyItem, kind: str) -> int:
        """Two tokens per answer (letter, space); about five in the JSON form (quotes, comma, spacing)."""
        return 2 * N + 8 if kind == "regex" else 5 * N + 16
