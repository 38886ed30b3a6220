"""``sequence`` (Seq): 30 simulated answers in one reply, counted (SPEC §3.1, §11.1.5, §11.2; the paper's method).

One request at the run's temperature; the reply is read by :func:`distalign.parsers.parse_sequence`: only
the text after the last ``Answer:`` counts, only tokens that are option letters count, the first 30 are
used and their frequencies form the distribution. Short or partly invalid replies are kept with a note in
``Parsed.reason`` and the counts in ``Parsed.extra``; a reply without any answer letter is a parse failure
that keeps the raw text.
"""

from __future__ import annotations

from distalign.expression.base import FreeTextMethod
from distalign.parsers import parse_sequence


class Sequence(FreeTextMethod):
    """A sampled sequence of 30 answer letters."""

    output_type = "sequence"
    parser = staticmethod(parse_sequence)
