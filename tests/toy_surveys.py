"""Tiny in-memory survey datasets for the prompt and steering tests (no data files needed).

One toy per dataset kind (OpinionQA-, NYT- and GlobalValues-shaped), each with one target question, its
no-steering cell, a group cell with a distribution and a list of few-shot neighbours. All texts are made up
for the tests.
"""

from __future__ import annotations

from pathlib import Path

from distalign.datasets import DATASETS
from distalign.datasets.base import NONE_GROUP, SurveyDataset
from distalign.types import Distribution, SurveyItem, letters

REPO = Path(__file__).resolve().parents[1]
LIKERT = ("1: Very unlikely", "2: Somewhat unlikely", "3: Somewhat likely", "4: Very likely")


def item(
    dataset: str,
    qid: str,
    options: tuple[str, ...],
    probs: tuple[float, ...] | None,
    group: str = "SEX",
    dem: str = "Female",
    persona: str | None = None,
    text: str | None = None,
    details: tuple[tuple[str, str], ...] = (),
) -> SurveyItem:
    truth = Distribution(letters(len(probs)), probs) if probs is not None else None
    return SurveyItem(
        dataset, qid, text or qid, options, group, dem, dem if persona is None else persona, truth, details
    )


class ToySurvey(SurveyDataset):
    """A dataset made of given cells and neighbour lists, worded like the registered dataset of its name.

    ``ToySurvey("nytimes", ...)`` is an instance of a subclass that also inherits the wording hooks and layout
    attributes of :class:`distalign.datasets.nytimes.NYTimes` (question lines, audience, no-steering support...).
    """

    def __new__(cls, name: str, *args: object, **kwargs: object) -> ToySurvey:
        if cls is ToySurvey and name in DATASETS:
            cls = type(f"Toy{DATASETS[name].__name__}", (ToySurvey, DATASETS[name]), {})
        return super().__new__(cls)

    def __init__(self, name: str, cells: list[SurveyItem], neighbours: dict[str, list[SurveyItem]]) -> None:
        super().__init__(".")
        self.name = name
        self.cells = {(c.qid, c.group, c.demographic): c for c in cells}
        self._neighbours = neighbours

    def question_ids(self) -> list[str]:
        return list(dict.fromkeys(q for q, _, _ in self.cells))

    def demographics(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys((g, d) for _, g, d in self.cells if g != NONE_GROUP))

    def item(self, qid: str, group: str, demographic: str) -> SurveyItem:
        return self.cells[(qid, group, demographic)]

    def neighbours(self, qid: str, group: str, demographic: str) -> list[SurveyItem]:
        return [n for n in self._neighbours.get(qid, []) if n.group == group and n.demographic == demographic]


# ---- OpinionQA-shaped ------------------------------------------------------------------------------------
OQA_Q = "COOK_W99"
OQA_TEXT = "How often do you cook dinner at home?"
OQA_OPTIONS = ("A few times a week", "Every day", "Never", "Rarely", "Refused")  # alphabetical, as observed


def _oqa_neighbours(group: str, dem: str) -> list[SurveyItem]:
    def nb(qid: str, text: str, options: tuple[str, ...], probs: tuple[float, ...] | None) -> SurveyItem:
        return item("opinionqa", qid, options, probs, group, dem, text=text)

    yes_no = ("No", "Refused", "Yes")
    often = ("Often", "Rarely", "Refused", "Sometimes")
    return [
        nb("BAKE_W99", "Do you bake bread at home?", yes_no, (0.7, 0.01, 0.29)),
        nb("TAKEOUT_W99", "How often do you order takeout food?", often, (0.2, 0.3, 0.0, 0.5)),
        nb(
            "LUNCH_W99",
            "How often do you pack a lunch for work or school?",
            ("A few times a week", "Every day", "Never", "Rarely", "Refused"),
            (0.3, 0.2, 0.2, 0.29, 0.01),
        ),
        nb("GARDEN_W99", "Do you grow any of your own vegetables?", yes_no, (0.6, 0.0, 0.4)),
        nb(
            "RECIPE_W99",
            "Where do you usually find new recipes?",
            ("Cookbooks", "Family", "Online", "Refused", "Television", "Other"),
            (0.1, 0.2, 0.5, 0.0, 0.1, 0.1),
        ),
        nb("EMPTY_W99", "How often do you eat breakfast?", (), None),  # no respondents: skipped
        nb("SNACK_W99", "How often do you eat snacks between meals?", often, (0.4, 0.1, 0.0, 0.5)),
    ]


def oqa() -> ToySurvey:
    """OpinionQA-shaped toy: one question, Female/Male/Democrat cells, a NONE cell and 7 neighbours."""
    cells = [
        item("opinionqa", OQA_Q, OQA_OPTIONS, None, NONE_GROUP, NONE_GROUP, "", text=OQA_TEXT),
        item("opinionqa", OQA_Q, OQA_OPTIONS, (0.35, 0.4, 0.05, 0.19, 0.01), text=OQA_TEXT),
        item("opinionqa", OQA_Q, OQA_OPTIONS[:4], (0.3, 0.3, 0.1, 0.3), "SEX", "Male", text=OQA_TEXT),
        item("opinionqa", OQA_Q, OQA_OPTIONS, (0.3, 0.45, 0.05, 0.19, 0.01), "POLPARTY", "Democrat", text=OQA_TEXT),
        item("opinionqa", "NOBODY_W99", (), None, "SEX", "Male", text="Did anyone answer this?"),
    ]
    neighbours = {OQA_Q: [*_oqa_neighbours("SEX", "Female"), *_oqa_neighbours("POLPARTY", "Democrat")]}
    return ToySurvey("opinionqa", cells, neighbours)


# ---- NYT-shaped -----------------------------------------------------------------------------------------------
NYT_Q = "The Quiet Orchard By Ada Finch"
# The neighbour books of NYT_Q: title, genre, summary, Republicans' distribution.
NYT_NEIGHBOURS = [
    (
        "Salt Roads By Tom Reyes",
        "History",
        "A history of the trade routes that carried salt across Africa.",
        (0.4, 0.3, 0.2, 0.1),
    ),
    (
        "Small Hours By Mei Lin",
        "Fiction",
        "A night nurse pieces together a patient's forgotten past.",
        (0.1, 0.2, 0.3, 0.4),
    ),
    (
        "Iron Bridges By Sam Okafor",
        "Biography",
        "The life of an engineer who built bridges in the 1880s.",
        (0.25, 0.25, 0.25, 0.25),
    ),
    (
        "The Long Table By Ruth Vance",
        "Memoir",
        "A chef remembers the family dinners of her childhood.",
        (0.05, 0.15, 0.5, 0.3),
    ),
    (
        "Cold Signal By Ivan Berg",
        "Thriller",
        "A radio operator intercepts a message that should not exist.",
        (0.3, 0.3, 0.3, 0.1),
    ),
    (
        "Field Notes By June Park",
        "Science",
        "A botanist's year spent counting wildflowers in one meadow.",
        (0.2, 0.2, 0.4, 0.2),
    ),
]


def _book(title: str, genre: str, summary: str, probs: tuple[float, ...] | None, group: str, dem: str) -> SurveyItem:
    details = (("Book Title", title), ("Book Genre", genre), ("Book Summary", summary))
    return item("nytimes", title, LIKERT, probs, group, dem, "" if group == NONE_GROUP else dem, details=details)


def nyt() -> ToySurvey:
    """NYT-shaped toy: one book, a Republican cell and 6 neighbour books."""
    summary = "Three sisters inherit a failing apple farm and must decide whether to sell it."
    cells = [
        _book(NYT_Q, "Fiction", summary, None, NONE_GROUP, NONE_GROUP),
        _book(NYT_Q, "Fiction", summary, (0.15, 0.2, 0.4, 0.25), "POLPARTY", "Republican"),
    ]
    return ToySurvey("nytimes", cells, {NYT_Q: [_book(*o, "POLPARTY", "Republican") for o in NYT_NEIGHBOURS]})


# ---- GlobalValues-shaped --------------------------------------------------------------------------------------
GV_Q = "Do you think your country's roads are in good or bad condition? "  # trailing space, as in the data


def gv() -> ToySurvey:
    """GlobalValues-shaped toy: one question for country position "1" (Freedonia) and 6 neighbours."""
    options = ("Good condition", "Bad condition", "DK/Refused")

    def nb(text: str, opts: tuple[str, ...], probs: tuple[float, ...]) -> SurveyItem:
        return item("globalvalues", text, opts, probs, "globalvalues", "1", "Freedonia")

    good_bad = ("Good thing", "Bad thing", "DK/Refused")
    neighbours = [
        nb("Is building new highways a good thing or a bad thing for your country?", good_bad, (0.6, 0.3, 0.1)),
        nb(
            "How satisfied are you with public transport in your country?",
            ("Very satisfied", "Somewhat satisfied", "Not too satisfied", "Not at all satisfied", "DK/Refused"),
            (0.1, 0.3, 0.3, 0.25, 0.05),
        ),
        nb(
            "Should the government spend more or less on road repairs?",
            ("More", "Less", "Same", "DK/Refused"),
            (0.7, 0.1, 0.15, 0.05),
        ),
        nb("Is traffic a big problem where you live?", ("Yes", "No"), (0.55, 0.45)),
        nb("Do you own a car?", ("Yes", "No", "DK/Refused"), (0.4, 0.58, 0.02)),
        nb("Is cycling safe in your town?", ("Yes", "No", "DK/Refused"), (0.2, 0.75, 0.05)),
    ]
    cells = [
        item("globalvalues", GV_Q, options, None, NONE_GROUP, NONE_GROUP, ""),
        item("globalvalues", GV_Q, options, (0.25, 0.7, 0.05), "globalvalues", "1", "Freedonia"),
    ]
    return ToySurvey("globalvalues", cells, {GV_Q: neighbours})


def toys() -> dict[str, ToySurvey]:
    """The three toys by dataset name."""
    return {"opinionqa": oqa(), "nytimes": nyt(), "globalvalues": gv()}


STEERED = {"opinionqa": ("SEX", "Female"), "nytimes": ("POLPARTY", "Republican"), "globalvalues": ("globalvalues", "1")}
TARGET = {"opinionqa": OQA_Q, "nytimes": NYT_Q, "globalvalues": GV_Q}


def target_item(name: str, task: str) -> SurveyItem:
    """The target cell of toy ``name`` for ``task`` (the NONE cell for task0)."""
    ds = toys()[name]
    group, dem = (NONE_GROUP, NONE_GROUP) if task == "task0" else STEERED[name]
    return ds.item(TARGET[name], group, dem)
