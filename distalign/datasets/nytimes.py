"""NYT book opinions: 235 NYT "10 Best Books" titles, 4-point likelihood-to-read (docs/original.md §2.2).

Source: ``nytimes/<GROUP>_data.json`` (``NONE``, ``POLPARTY``, ``SEX``; the files are identical) and
``nytimes/question_similarity_top10.json``. Options are always the four Likert labels in fixed order
(A = "1: Very unlikely" ... D = "4: Very likely"); an unobserved label has count 0. Groups: POLPARTY
{Democrat, Republican} and SEX {Male, Female}. The question key is the book title; title, genre and
summary are shown before the question, which asks how likely the reader (or the steered group's member) is
to read the book.
"""

from __future__ import annotations

from distalign.datasets.base import NONE_GROUP, SurveyDataset, detail_lines, from_counts
from distalign.files import DataError, require
from distalign.types import SurveyItem

GROUPS = {"POLPARTY": ("Democrat", "Republican"), "SEX": ("Male", "Female")}
LIKERT = ("1: Very unlikely", "2: Somewhat unlikely", "3: Somewhat likely", "4: Very likely")
QUESTION = "Based on the information above, how likely {who} to read this book?"


class NYTimes(SurveyDataset):
    """The NYT book-opinion dataset of the paper."""

    name = "nytimes"
    opening = "You will see the description of a book and a multiple-choice survey question about it."
    context_lead = "Asked in a survey how likely they were to read this book"

    def question_lines(self, item: SurveyItem, member: str | None) -> list[str]:
        """The book's title, genre and summary, then how likely you (or ``member``) would be to read it."""
        who = f"is {member}" if member else "are you"
        return [*detail_lines(item), f"Question: {QUESTION.format(who=who)}"]

    def format_lines(self, member: bool) -> list[str]:
        """The book fields, then the question."""
        return [
            "Book Title: ${book title}",
            "Book Genre: ${book genre}",
            "Book Summary: ${book summary}",
            "Question: ${question}",
        ]

    def _file(self, group: str) -> dict[str, dict]:
        if group != NONE_GROUP and group not in GROUPS:
            raise ValueError(f"unknown NYT group {group!r}; valid: {[NONE_GROUP, *GROUPS]}")
        return self._json(f"nytimes/{group}_data.json")

    def question_ids(self) -> list[str]:
        """The 235 book titles in ``NONE_data.json`` order."""
        return list(self._file(NONE_GROUP))

    def demographics(self) -> list[tuple[str, str]]:
        """Democrat, Republican, Male, Female."""
        return [(g, d) for g, dems in GROUPS.items() for d in dems]

    def item(self, qid: str, group: str, demographic: str) -> SurveyItem:
        """One (book, demographic) cell."""
        where = f"{self.root}/nytimes/{group}_data.json[{qid!r}]"
        rec = require(self._file(group), qid, where.rsplit("[", 1)[0])
        options = tuple(require(rec, "MC_options", where))
        if options != LIKERT:
            raise DataError(f"{where}: MC_options {list(options)} differ from the Likert scale {list(LIKERT)}")
        details = (
            ("Book Title", qid),
            ("Book Genre", str(require(rec, "genre", where))),
            ("Book Summary", str(require(rec, "summary", where))),
        )
        truth = None
        if group != NONE_GROUP:
            counts = require(rec, demographic, where)
            if not isinstance(counts, dict):
                raise DataError(f"{where}[{demographic!r}]: expected Likert counts")
            truth = from_counts([counts.get(o, 0) for o in options], f"{where}[{demographic!r}]")
        persona = "" if group == NONE_GROUP else demographic
        return SurveyItem(self.name, qid, qid, options, group, demographic, persona, truth, details)

    def neighbours(self, qid: str, group: str, demographic: str) -> list[SurveyItem]:
        """The 10 most similar other books (SimCSE distance), with this demographic's ratings."""
        sim = self._json("nytimes/question_similarity_top10.json")
        ids = require(sim, qid, f"{self.root}/nytimes/question_similarity_top10.json")
        return [self.item(n, group, demographic) for n in ids if n != qid]
