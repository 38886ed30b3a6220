"""Rendering of report pages: the Jinja2 environment (autoescaping on), inlined assets, the page budget.

Every page is a static file that opens from ``file://`` with no server and no network: its stylesheet and scripts
(the report's own and the vendored table sorter, tablesort 5.7.1, MIT, see ``assets/tablesort.LICENSE.txt``) are
inlined. Templates live in ``templates/`` and are rendered with autoescaping on for every variable, so untrusted text
(model replies, parse errors, folder names) is always escaped; data for scripts goes through Jinja2's ``tojson``,
which escapes ``<``, ``>``, ``&`` and ``'`` as well. Output is deterministic: no time stamps, sorted inputs.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from distalign.files import write_text

PAGE_BUDGET = 5_000_000  # bytes: the most one page may weigh
ASSETS = ("report.css", "tablesort.min.js", "tablesort.number.min.js", "report.js", "explorer.js")


class PageTooLarge(ValueError):
    """A rendered page is over :data:`PAGE_BUDGET`."""


@cache
def asset(name: str) -> str:
    """The text of a file in ``distalign/report/assets/``."""
    return resources.files("distalign.report").joinpath("assets", name).read_text(encoding="utf-8")


def number(value: Any, digits: int = 4) -> str:
    """A score as text, "" when missing.

    >>> number(0.123456), number(float("nan")), number(None), number(3, 1)
    ('0.1235', '', '', '3.0')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.{digits}f}"


def percent(value: Any) -> str:
    """A rate as a percentage with one decimal ("" when missing).

    >>> percent(0.0655), percent(float("nan"))
    ('6.6%', '')
    """
    text = number(value, 3)
    return f"{float(value) * 100:.1f}%" if text else ""


def count(value: Any) -> str:
    """An integer with thousands separators.

    >>> count(3678), count(None)
    ('3,678', '')
    """
    return "" if value is None else f"{int(value):,}"


@cache
def environment() -> Environment:
    """The one Jinja2 environment: package templates, autoescaping on, undefined names are errors."""
    env = Environment(
        loader=PackageLoader("distalign.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "separators": (",", ":"), "ensure_ascii": False}
    env.filters.update(number=number, percent=percent, count=count)
    env.globals["asset"] = asset
    return env


def render(template: str, **context: Any) -> str:
    """Render one page template with ``context``."""
    return environment().get_template(template).render(**context)


def write_page(path: Path, html: str, budget: int = PAGE_BUDGET) -> Path:
    """Write one page atomically; raises :class:`PageTooLarge` (writing nothing) when it is over ``budget``."""
    size = len(html.encode("utf-8"))
    if size > budget:
        raise PageTooLarge(f"{path.name} would be {size:,} bytes, over the page budget of {budget:,}")
    write_text(path, html)
    return path
