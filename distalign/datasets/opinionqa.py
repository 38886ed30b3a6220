"""OpinionQA subset: 100 contentious Pew ATP questions, groups POLPARTY/SEX/RACE (docs/original.md §2.1).

Source: ``opinions_qa/data/human_resp/Pew_American_Trends_Panel_disagreement_{100,500}/``.
Quirks handled here:

* the evaluation set is the keys of the ``_100`` group files, in file order (its ``info.csv`` does not
  match them and is never used); the ``_500`` files (494 questions) are the few-shot example pool;
* each demographic's dict maps *observed* option text -> respondent count, keys sorted alphabetically;
  options are lettered in that order (Refused kept), so two demographics may see different options;
* ``MC_options`` (survey order) was split at commas; it is exposed only for the paper-mode evaluation;
* ``FEM2_W29`` has an empty Male dict: that cell has no options and no truth (not evaluable);
* no steering (group ``NONE``) shows the Democrat dict's options, as the released task0 files do.
"""

from __future__ import annotations

from distalign.datasets.base import NONE_GROUP, SurveyDataset, from_counts
from distalign.files import DataError, require, safe_component
from distalign.names import OQA_POOL, OQA_WAVE
from distalign.types import SurveyItem

BASE = "opinions_qa/data/human_resp"
GROUPS = ("POLPARTY", "SEX", "RACE")
EVALUATED = (
    ("POLPARTY", "Democrat"),
    ("POLPARTY", "Republican"),
    ("SEX", "Male"),
    ("SEX", "Female"),
    ("RACE", "Black"),
    ("RACE", "White"),
)
_META = ("MC_options", "question_text")


class OpinionQA(SurveyDataset):
    """The OpinionQA subset of the paper."""

    name = "opinionqa"
    wave = OQA_WAVE

    def _file(self, group: str, pool: bool = False) -> dict[str, dict]:
        if group not in GROUPS:
            raise ValueError(f"unknown OpinionQA group {group!r}; valid: {list(GROUPS)}")
        return self._json(f"{BASE}/{OQA_POOL if pool else OQA_WAVE}/{group}_data.json")

    def question_ids(self) -> list[str]:
        """The 100 evaluation keys (the ``_100`` POLPARTY file's keys, in order)."""
        return list(self._file("POLPARTY"))

    def pool_size(self) -> int:
        """494 questions in the ``_500`` example pool."""
        return len(self._file("POLPARTY", pool=True))

    def demographics(self) -> list[tuple[str, str]]:
        """Democrat/Republican, Male/Female, Black/White."""
        return list(EVALUATED)

    def all_demographics(self) -> dict[str, list[str]]:
        """Every demographic key of every group file."""
        out = {}
        for group in GROUPS:
            keys: dict[str, None] = {}
            for rec in self._file(group).values():
                names = (safe_component(k, "demographic", self._where(group, False)) for k in rec if k not in _META)
                keys.update(dict.fromkeys(names))
            out[group] = list(keys)
        return out

    def survey_options(self, qid: str) -> list[str]:
        """``MC_options`` as stored (survey order, comma-split; docs/original.md §11.1.2)."""
        rec = self._record(qid, "POLPARTY", pool=False)
        return list(require(rec, "MC_options", f"{self._where('POLPARTY', False)}[{qid!r}]"))

    def item(self, qid: str, group: str, demographic: str) -> SurveyItem:
        """One cell of the evaluation set."""
        return self._item(qid, group, demographic, pool=False)

    def neighbours(self, qid: str, group: str, demographic: str) -> list[SurveyItem]:
        """The 10 text-nearest pool questions (never the target), with this demographic's counts."""
        sim = self._json(f"{BASE}/{OQA_WAVE}/question_similarity_top10.json")
        ids = require(sim, qid, f"{self.root / BASE / OQA_WAVE}/question_similarity_top10.json")
        return [self._item(n, group, demographic, pool=True) for n in ids if n != qid]

    def _where(self, group: str, pool: bool) -> str:
        return f"{self.root}/{BASE}/{OQA_POOL if pool else OQA_WAVE}/{group}_data.json"

    def _record(self, qid: str, group: str, pool: bool) -> dict:
        return require(self._file(group, pool), qid, self._where(group, pool))

    def _item(self, qid: str, group: str, demographic: str, pool: bool) -> SurveyItem:
        source = "POLPARTY" if group == NONE_GROUP else group
        rec = self._record(qid, source, pool)
        where = f"{self._where(source, pool)}[{qid!r}]"
        text = require(rec, "question_text", where)
        counts = require(rec, "Democrat" if group == NONE_GROUP else demographic, where)
        if not isinstance(counts, dict):
            raise DataError(f"{where}[{demographic!r}]: expected option counts, found {type(counts).__name__}")
        truth = None if group == NONE_GROUP else from_counts(list(counts.values()), f"{where}[{demographic!r}]")
        options = tuple(counts) if (truth is not None or group == NONE_GROUP) else ()
        persona = "" if group == NONE_GROUP else demographic
        return SurveyItem(self.name, qid, text, options, group, demographic, persona, truth)
