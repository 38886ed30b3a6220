"""Expression-method registry: ``--output_type`` name -> method (docs/original.md §3).

>>> sorted(METHODS)
['express_distribution', 'express_distribution_structured', 'independent_samples', 'model_logprobs', \
'option_likelihood', 'sequence', 'sequence_structured']
>>> get_method("sequence").output_type
'sequence'
>>> get_method("logits")
Traceback (most recent call last):
...
ValueError: unknown output type 'logits'; valid: express_distribution, express_distribution_structured, \
independent_samples, model_logprobs, option_likelihood, sequence, sequence_structured

``rescaled_model_logprobs`` is not generated: it is derived from ``model_logprobs`` by temperature scaling.
"""

from __future__ import annotations

from distalign.expression.base import ExpressionMethod, MethodConfig
from distalign.expression.logprobs import Logprobs
from distalign.expression.option_likelihood import OptionLikelihood
from distalign.expression.samples import Samples
from distalign.expression.sequence import Sequence
from distalign.expression.sequence_structured import SequenceStructured
from distalign.expression.verbalize import Verbalize
from distalign.expression.verbalize_structured import VerbalizeStructured

__all__ = ["METHODS", "ExpressionMethod", "MethodConfig", "get_method"]

METHODS: dict[str, ExpressionMethod] = {
    m.output_type: m
    for m in (
        Logprobs(),
        Sequence(),
        Verbalize(),
        Samples(),
        OptionLikelihood(),
        VerbalizeStructured(),
        SequenceStructured(),
    )
}


def get_method(output_type: str) -> ExpressionMethod:
    """The expression method of an ``--output_type`` name."""
    if output_type not in METHODS:
        raise ValueError(f"unknown output type {output_type!r}; valid: {', '.join(sorted(METHODS))}")
    return METHODS[output_type]
