"""Flags that every command-line script spells alike (``lm_steering.py``, ``temperature_scaling.py``, ...).

Numeric flags are checked by argparse itself (:func:`int_at_least`, :func:`float_range`, :data:`SEED`): a bad
value stops the command with usage and exit status 2 before anything runs.

Every CLI writes into ``--output_dir``; the spellings older versions used (``--results_dir`` for generation,
``--out_dir`` for temperature scaling, ``--out`` for the figures) still work but are not shown in ``--help``.

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_output_dir(p, "results", "where results go", "--results_dir")
>>> p.parse_args(["--results_dir", "x"]).output_dir, p.parse_args([]).output_dir
('x', 'results')
"""

from __future__ import annotations

import argparse
from typing import Any


def add_output_dir(
    parser: argparse.ArgumentParser, default: Any, help: str, *old_spellings: str, type: Any = str
) -> None:
    """``--output_dir`` (dest ``output_dir``), plus hidden aliases for the flag's ``old_spellings``."""
    parser.add_argument("--output_dir", default=default, type=type, help=help)
    for old in old_spellings:
        parser.add_argument(old, dest="output_dir", type=type, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _number(kind: type, text: str, low: float | None, high: float | None, low_open: bool) -> Any:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low:g}, got {text}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"must be <= {high:g}, got {text}")
    return value


def int_at_least(low: int, high: int | None = None) -> Any:
    """An argparse ``type``: an integer ``>= low`` (and ``<= high``).

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--n", type=int_at_least(1))
    >>> p.parse_args(["--n", "3"]).n
    3
    """

    def parse(text: str) -> int:
        return int(_number(int, text, low, high, False))

    parse.__name__ = "integer"
    return parse


def float_range(low: float, high: float | None = None, low_open: bool = False) -> Any:
    """An argparse ``type``: a finite number ``>= low`` (``> low`` with ``low_open``) and ``<= high``.

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--t", type=float_range(0.0))
    >>> p.parse_args(["--t", "0.7"]).t
    0.7
    """

    def parse(text: str) -> float:
        return float(_number(float, text, low, high, low_open))

    parse.__name__ = "number"
    return parse


SEED = int_at_least(0, 2**32 - 1)  # numpy's seed range; every CLI's --seed
POSITIVE = int_at_least(1)
