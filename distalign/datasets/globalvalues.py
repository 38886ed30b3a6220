"""GlobalValues: 100 GlobalOpinionQA questions, three countries per question (docs/original.md §2.3).

Source: ``Global_Values/data/data.json`` and ``Global_Values/data/question_similarity.json``.
Quirks handled here:

* the question key is the question text; ``MC_options`` is a string holding a Python list literal,
  parsed with :func:`ast.literal_eval` (a literal parser, never ``eval``) and checked to be strings;
* groups ``"0"``, ``"1"``, ``"2"`` are *positions in each question's own* ``countries`` list, so group
  "0" is a different country for different questions; persona prompts use the country name;
* the truth is ``record[country]`` as stored (it may sum to 0.998-1.002);
* few-shot neighbours come from the whole GlobalOpinionQA pool via ``question_similarity.json``,
  each with the country's own option list and distribution, already ranked for the country;
* there is no no-steering task (the groups are per-question countries), and steered prompts speak of
  "people from <country>".
"""

from __future__ import annotations

import ast

from distalign.datasets.base import NONE_GROUP, SurveyDataset, stored
from distalign.files import DataError, require
from distalign.names import GV_WAVE
from distalign.types import Audience, SurveyItem

DATA = "Global_Values/data/data.json"
SIMILARITY = "Global_Values/data/question_similarity.json"
POSITIONS = ("0", "1", "2")


def parse_options(raw: object, where: str) -> tuple[str, ...]:
    """Option list from the stored list literal.

    >>> parse_options("['Good thing', 'Bad thing', 'DK/Refused']", "x")
    ('Good thing', 'Bad thing', 'DK/Refused')
    >>> parse_options("__import__('os')", "x")
    Traceback (most recent call last):
    ...
    distalign.files.DataError: x: MC_options is not a list literal of strings: "__import__('os')"
    """
    try:
        value = ast.literal_eval(raw) if isinstance(raw, str) else raw
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: MC_options is not a list literal of strings: {raw!r}")
    return tuple(value)


class GlobalValues(SurveyDataset):
    """The GlobalOpinionQA subset of the paper."""

    name = "globalvalues"
    no_steering = False
    ranked_neighbours = True

    def question_lines(self, item: SurveyItem, member: str | None) -> list[str]:
        """With ``member``, a line asking how that person would answer; then the question."""
        ask = [f"How would {member} answer the following question?"] if member else []
        return [*ask, f"Question: {item.text.strip()}"]

    def format_lines(self, member: bool) -> list[str]:
        """The country line of steered prompts, then the question."""
        ask = ["How would a person from ${country} answer the following question?"] if member else []
        return [*ask, "Question: ${question}"]

    def audience(self, name: str, fictitious: bool) -> Audience:
        """People from a country (a made-up one is quoted as such)."""
        place = f'the country "{name}"' if fictitious else name
        return Audience(f"people from {place}", f"person from {place}")

    def question_ids(self) -> list[str]:
        """The 100 question texts in file order."""
        return list(self._json(DATA))

    def demographics(self) -> list[tuple[str, str]]:
        """Positions 0, 1, 2 of each question's country list."""
        return [(GV_WAVE, p) for p in POSITIONS]

    def all_demographics(self) -> dict[str, list[str]]:
        """The positions, plus every country named anywhere (for reporting)."""
        countries: dict[str, None] = {}
        for q in self.question_ids():
            countries.update(dict.fromkeys(self.countries(q)[: len(POSITIONS)]))
        return {GV_WAVE: list(POSITIONS), "countries": list(countries)}

    def countries(self, qid: str) -> list[str]:
        """The question's own country list (groups are positions in it)."""
        rec = require(self._json(DATA), qid, str(self.root / DATA))
        countries = require(rec, "countries", f"{self.root / DATA}[{qid!r}]")
        if not isinstance(countries, list) or len(countries) < len(POSITIONS):
            raise DataError(f"{self.root / DATA}[{qid!r}]: 'countries' must list at least {len(POSITIONS)} names")
        return countries

    def country(self, qid: str, demographic: str) -> str:
        """Country name of group ``demographic`` ("0", "1", "2") for question ``qid``."""
        if demographic not in POSITIONS:
            raise ValueError(f"unknown GlobalValues group {demographic!r}; valid: {list(POSITIONS)}")
        return self.countries(qid)[int(demographic)]

    def item(self, qid: str, group: str, demographic: str) -> SurveyItem:
        """One (question, country) cell; ``group`` is ``globalvalues`` (or ``NONE``)."""
        where = f"{self.root / DATA}[{qid!r}]"
        rec = require(self._json(DATA), qid, str(self.root / DATA))
        options = parse_options(require(rec, "MC_options", where), where)
        if group == NONE_GROUP:
            return SurveyItem(self.name, qid, qid, options, group, demographic, "")
        country = self.country(qid, demographic)
        values = require(rec, country, where)
        if not isinstance(values, list) or len(values) != len(options):
            raise DataError(f"{where}[{country!r}]: expected {len(options)} probabilities, found {values!r}")
        truth = stored(values, f"{where}[{country!r}]")
        return SurveyItem(self.name, qid, qid, options, GV_WAVE, demographic, country, truth)

    def neighbours(self, qid: str, group: str, demographic: str) -> list[SurveyItem]:
        """The 5-10 most similar pool questions for this country, most similar first."""
        country = self.country(qid, demographic)
        where = f"{self.root / SIMILARITY}[{qid!r}][{country!r}]"
        sims = require(require(self._json(SIMILARITY), qid, str(self.root / SIMILARITY)), country, where)
        out = []
        for text, wrapped in sims.items():
            if text == qid:
                continue
            if not isinstance(wrapped, list) or len(wrapped) != 1 or not isinstance(wrapped[0], dict):
                raise DataError(f"{where}[{text!r}]: expected a one-element list holding an option->p object")
            dist = stored(list(wrapped[0].values()), f"{where}[{text!r}]")
            out.append(SurveyItem(self.name, text, text, tuple(wrapped[0]), GV_WAVE, demographic, country, dist))
        return out
