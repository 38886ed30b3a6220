"""``express_distribution`` (V, verbalize): the model states the distribution as JSON (SPEC §3.3, §11.1.4, §11.2).

The prompt asks for a JSON object mapping each option letter to a whole percentage. The request itself is
an ordinary text request (no backend-specific JSON mode), so every backend runs it the same way. The reply
is read by :func:`distalign.parsers.parse_verbalized`, which never evaluates it: the first ``{...}`` block,
quoted or bare keys, percentages or fractions, renormalised, with missing letters and the raw total noted.
A reply without a usable object is a parse failure that keeps the raw text (never an all-zero vector).
"""

from __future__ import annotations

from distalign.expression.base import FreeTextMethod
from distalign.parsers import parse_verbalized


class Verbalize(FreeTextMethod):
    """A verbalized percentage distribution."""

    output_type = "express_distribution"
    parser = staticmethod(parse_verbalized)
