"""Flags that every command-line script spells alike (``lm_steering.py``, ``temperature_scaling.py``, ...).

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
