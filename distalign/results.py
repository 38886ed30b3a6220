"""Result files: every on-disk path and record format of docs/original.md §5 in one place.

Layout (``root`` is ``results/``): ``<dataset>/<output_type>/<model>/<task>/[<wave>/]<GROUP>/<dem>.json``, where
the wave folder is the dataset's :attr:`~distalign.datasets.SurveyDataset.wave` (OpinionQA's survey wave)::

    opinionqa/<output_type>/<model>/<task>/Pew_American_Trends_Panel_disagreement_100/<GROUP>/<dem>.json
    nytimes/<output_type>/<model>/<task>/<GROUP>/<dem>.json
    globalvalues/<output_type>/<model>/<task>/globalvalues/<0|1|2>.json      (the group is "globalvalues")

Each file maps question key -> record with the original fields (``actual_results``,
``avg_actual_results``, ``std_actual_results``, ``response``, ``expected_results`` or task0's
``expected_results_<GROUP>_<dem>``, Log-p's ``actual_results_sampled``). Records written by this
package add ``parse_ok`` / ``parse_error``; a failed parse stores ``avg_actual_results: null`` and the
raw text, never zeros. An unsupported (model, method) pair is recorded as an ``_na.json`` marker in
``<dataset>/<output_type>/<model>/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distalign.datasets import DATASETS
from distalign.files import DataError, read_json, safe_component, write_json
from distalign.types import Distribution, Parsed

NA_FILE = "_na.json"
_PARTS = ("dataset", "output type", "model", "task", "group", "demographic")


@dataclass(frozen=True)
class ResultKey:
    """Identifies one result file: (dataset, output type, model folder, task folder, group, demographic)."""

    dataset: str
    output_type: str
    model: str
    task: str
    group: str
    demographic: str

    @property
    def wave(self) -> str:
        """The ``Wave`` column of the evaluation CSV (docs/original.md §7.3): the wave folder, else the group."""
        return wave_of(self.dataset) or self.group


def wave_of(dataset: str) -> str:
    """The wave folder of a registered dataset ("" for none or an unregistered name)."""
    return DATASETS[dataset].wave if dataset in DATASETS else ""


def result_path(root: Path | str, key: ResultKey) -> Path:
    """Path of the result file for ``key`` under ``root``; a key part that cannot name a file raises DataError.

    >>> result_path("r", ResultKey("nytimes", "sequence", "m", "task1", "SEX", "../../x"))
    Traceback (most recent call last):
    ...
    distalign.files.DataError: result file of nytimes/sequence/m/task1/SEX: demographic '../../x' cannot name a \
file (empty, a leading '.' or a path separator)
    """
    where = f"result file of {key.dataset}/{key.output_type}/{key.model}/{key.task}/{key.group}"
    parts = (key.dataset, key.output_type, key.model, key.task, key.group, key.demographic)
    for what, part in zip(_PARTS, parts, strict=True):
        safe_component(part, what, where)
    base = Path(root) / key.dataset / key.output_type / key.model / key.task
    wave = wave_of(key.dataset)
    return (base / wave if wave else base) / key.group / f"{key.demographic}.json"


def na_path(root: Path | str, dataset: str, output_type: str, model: str) -> Path:
    """Path of the "not applicable" marker of a (model, method) pair."""
    return Path(root) / dataset / output_type / model / NA_FILE


def scan(root: Path | str) -> Iterator[tuple[ResultKey, Path]]:
    """Every result file under ``root`` in sorted order (temporary and marker files are skipped)."""
    root = Path(root)
    for dataset in DATASETS:
        for path in sorted((root / dataset).glob("*/*/*/**/*.json")):
            if path.name.startswith((".", "_")):
                continue
            key = _key_of(root, path)
            if key is not None:
                yield key, path


def _key_of(root: Path, path: Path) -> ResultKey | None:
    parts = path.relative_to(root).parts
    dataset, output_type, model, task = parts[:4]
    rest = parts[4:]
    wave = wave_of(dataset)
    if wave:
        if rest[0] != wave:
            return None
        rest = rest[1:]
    if len(rest) != 2:
        return None
    return ResultKey(dataset, output_type, model, task, rest[0], path.stem)


def scan_na(root: Path | str) -> Iterator[tuple[str, str, str, str]]:
    """(dataset, output_type, model, reason) of every "n/a" marker under ``root``."""
    for path in sorted(Path(root).glob(f"*/*/*/{NA_FILE}")):
        dataset, output_type, model = path.relative_to(root).parts[:3]
        yield dataset, output_type, model, str(read_json(path).get("reason", ""))


def read_results(path: Path | str, for_scoring: bool = False) -> dict[str, dict[str, Any]]:
    """Read one result file; malformed content raises :class:`DataError` naming the file and key.

    ``for_scoring``: the faster reader of :func:`~distalign.files.read_json` (integers beyond 64 bits become floats,
    which scoring does anyway); never for records that will be written back.
    """
    data = read_json(path, big_ints_as_floats=for_scoring)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object of question records, found {type(data).__name__}")
    for qid, rec in data.items():
        if not isinstance(rec, dict):
            raise DataError(f"{path}: record {qid!r} is {type(rec).__name__}, not an object")
    return data


def write_results(path: Path | str, records: dict[str, dict[str, Any]]) -> None:
    """Atomically (re)write one result file."""
    write_json(path, records)


def make_record(parsed: Parsed, letters: tuple[str, ...], expected: dict[str, dict[str, float]]) -> dict[str, Any]:
    """A result record in the original field layout for one (question, demographic).

    Args:
        parsed: the parsed model output (a failure keeps ``avg_actual_results`` null).
        letters: the option letters shown in the prompt.
        expected: ``{"expected_results": {...}}`` (task1/2/3) or task0's ``expected_results_<G>_<d>`` fields.
    """
    rec: dict[str, Any] = {}
    if parsed.dist is not None:
        avg = dict(zip(letters, _aligned(parsed.dist, letters), strict=True))
        rec["actual_results"] = {k: [v] for k, v in avg.items()}
        rec["avg_actual_results"] = avg
        rec["std_actual_results"] = {k: 0.0 for k in avg}
    else:
        rec["actual_results"] = None
        rec["avg_actual_results"] = None
        rec["std_actual_results"] = None
    rec["response"] = [parsed.response]
    rec.update(expected)
    rec["parse_ok"] = parsed.parse_ok
    if parsed.reason:
        rec["parse_error" if not parsed.parse_ok else "parse_note"] = parsed.reason
    for name, value in parsed.extra:
        rec[name] = value
    return rec


def _aligned(dist: Distribution, letters: tuple[str, ...]) -> list[float]:
    """Probabilities of ``dist`` in the order of ``letters`` (absent letters are 0)."""
    d = dist.as_dict()
    return [float(d.get(letter, 0.0)) for letter in letters]


def record_distribution(rec: dict[str, Any]) -> Distribution | None:
    """The stored model distribution of a record (``None`` for a recorded parse failure).

    >>> record_distribution({"avg_actual_results": {"A": 0.25, "B": 0.75}})
    Distribution(letters=('A', 'B'), probs=(0.25, 0.75))
    """
    avg = rec.get("avg_actual_results")
    if avg is None:
        return None
    return Distribution.from_dict(avg)
