"""Participant privacy: identifying data are removed on write and never loaded (docs/original.md §2.2).

Applies to the human-study files of the release, whatever the source (mirror or upstream):

* every CSV under ``results/human_annotations/`` and ``nytimes/individual_annotations/`` loses the
  columns for which :func:`is_identifying` is true (the rule is documented there);
* ``nytimes/individual_annotations/NYTIMES_proportions_ID.json`` ({book: {group: {prolific_id: label}}})
  has every annotator ID replaced by a stable pseudonym (:func:`pseudonym`), the same for one annotator
  across books and groups, so per-annotator analyses still work.

:func:`transform` is what the fetch applies before writing; :func:`read_annotation_csv` (pandas),
:func:`read_annotation_table` (the text of chosen columns, for fast numeric reads) and :func:`read_annotation_json`
are the loaders other modules must use, and they strip again, so a file that somehow still holds identifying
data on disk is never loaded with it. Tested in ``tests/test_privacy.py``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distalign.files import DataError, read_json

if TYPE_CHECKING:
    import pandas as pd

PRIVATE_DIRS = ("results/human_annotations/", "nytimes/individual_annotations/")
ID_JSON = "nytimes/individual_annotations/NYTIMES_proportions_ID.json"
RECORD_FIELDS = frozenset({"MC_options", "genre", "summary"})  # per-book fields of ID_JSON that are not groups

# Exact column names (compared lower-case, with spaces, "_" and "-" removed) that identify a participant.
IDENTIFYING_NAMES = frozenset(
    {
        "ipaddress",
        "locationlatitude",
        "locationlongitude",
        "locationaccuracy",  # Qualtrics network / location
        "recipientfirstname",
        "recipientlastname",
        "recipientemail",  # Qualtrics contact-list fields
        "externalreference",
        "externaldatareference",  # panel reference passed in by the recruiter
        "responseid",
        "sessionid",  # per-response / per-session identifiers
        "prolificpid",
        "prolificid",
        "q84",  # Prolific participant ID (Q84 is the survey's "Prolific ID" question)
        "workerid",
        "hitid",
        "assignmentid",  # Mechanical Turk identifiers
        "q143",  # free-text "Please comment on the clarity and value of the book summary" (NYT data collection)
    }
)
# Substrings of the normalised name that mark an identifying or free-text column.
IDENTIFYING_PARTS = ("prolific", "recipient", "email", "comment", "feedback")
PSEUDONYM_SALT = b"distalign/nytimes-annotators/v1"  # fixed, so pseudonyms are stable across machines and runs
PSEUDONYM_RE = re.compile(r"a_[0-9a-f]{12}")


def is_identifying(column: str) -> bool:
    """Whether a survey column identifies a participant or holds free text (then it is never kept).

    The rule: after lower-casing and removing spaces, ``_`` and ``-``, the name is in
    :data:`IDENTIFYING_NAMES`, or contains one of :data:`IDENTIFYING_PARTS`; or the name ends in
    ``_TEXT`` (Qualtrics' free-text "Other (please specify)" answers).

    >>> [c for c in ["IPAddress", "LocationLatitude", "RecipientEmail", "Q84", "PROLIFIC_PID", "workerId",
    ...              "ResponseId", "QDem_Race_6_TEXT", "Q143", "Comments", "ExternalReference"] if is_identifying(c)]
    ... # doctest: +NORMALIZE_WHITESPACE
    ['IPAddress', 'LocationLatitude', 'RecipientEmail', 'Q84', 'PROLIFIC_PID', 'workerId', 'ResponseId',
     'QDem_Race_6_TEXT', 'Q143', 'Comments', 'ExternalReference']
    >>> [c for c in ["QDem_Gend", "Q_DemRepub", "1_Q138", "Q87", "Status", "StartDate", ""] if is_identifying(c)]
    []
    """
    key = re.sub(r"[\s_\-]", "", column.lower())
    return (
        key in IDENTIFYING_NAMES or any(part in key for part in IDENTIFYING_PARTS) or column.upper().endswith("_TEXT")
    )


def applies(rel_path: str) -> bool:
    """Whether the release file at ``rel_path`` goes through :func:`transform` before it is written.

    >>> applies("results/human_annotations/x.csv"), applies(ID_JSON), applies("nytimes/SEX_data.json")
    (True, True, False)
    """
    return rel_path == ID_JSON or (rel_path.endswith(".csv") and rel_path.startswith(PRIVATE_DIRS))


def transform(rel_path: str, data: bytes) -> bytes:
    """The bytes to write for a release file: identifying data removed (unchanged if there are none)."""
    if rel_path == ID_JSON:
        return pseudonymise_json(data, rel_path)
    if applies(rel_path):
        return strip_csv(data, rel_path)
    return data


# --- CSV --------------------------------------------------------------------------------------------------


def strip_csv(data: bytes, where: str = "<csv>") -> bytes:
    r"""Drop the identifying columns of a CSV; other rows, columns and values are kept as they are.

    The encoding (UTF-8, with or without BOM) and line terminator are preserved. A CSV without
    identifying columns comes back byte for byte.

    >>> strip_csv(b"a,IPAddress,b_TEXT,c\r\n1,10.0.0.1,hi,\"x,y\"\r\n", "t.csv")
    b'a,c\r\n1,"x,y"\r\n'
    >>> strip_csv(b"a,b\n1,2\n")
    b'a,b\n1,2\n'
    """
    text, bom = _decode(data, where)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(is_identifying(c) for c in rows[0]):
        return data
    keep = [i for i, col in enumerate(rows[0]) if not is_identifying(col)]
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]):
            raise DataError(f"{where}: record {n} has {len(row)} fields, header has {len(rows[0])}")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n" if "\r\n" in text[:100_000] else "\n")
    writer.writerows([row[i] for i in keep] for row in rows)
    return (bom + out.getvalue()).encode("utf-8")


def _decode(data: bytes, where: str) -> tuple[str, str]:
    """Text of a UTF-8 file and its byte-order mark ("" if none); a :class:`DataError` if not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return (text[1:], "\ufeff") if text.startswith("\ufeff") else (text, "")


def read_annotation_csv(path: Path | str, **read_csv_kwargs: Any) -> pd.DataFrame:
    """Load a human-study CSV with pandas; identifying columns are never loaded, even if still on disk.

    Extra keyword arguments go to :func:`pandas.read_csv`; a ``usecols`` list or callable is honoured
    on top of the privacy filter.
    """
    import pandas as pd

    wanted = read_csv_kwargs.pop("usecols", None)
    select: Callable[[Any], bool] = (
        (lambda c: True) if wanted is None else wanted if callable(wanted) else (lambda c: c in set(wanted))
    )
    try:
        return pd.read_csv(path, usecols=lambda c: not is_identifying(str(c)) and select(c), **read_csv_kwargs)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None


def read_annotation_table(
    path: Path | str, select: Callable[[str], bool]
) -> tuple[list[str], list[tuple[str, ...]]] | None:
    r"""The names and the text of the columns ``select`` keeps, identifying columns never (header row excluded).

    ``None`` when the file is not a plain table that :func:`pandas.read_csv` would read the same way (not UTF-8,
    a blank or ragged record, repeated column names, no column kept): read it with :func:`read_annotation_csv`.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(f"{d}/a.csv").write_text("Q84,x_1,x_2\r\n5f03,10,\r\n")
    ...     read_annotation_table(f"{d}/a.csv", lambda c: True), read_annotation_table(f"{d}/a.csv", str.isdigit)
    ((['x_1', 'x_2'], [('10', '')]), None)
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (UnicodeDecodeError, csv.Error):
        return None
    header = rows[0] if rows else []
    keep = [i for i, c in enumerate(header) if not is_identifying(c) and select(c)]
    if len(keep) < 2 or len(set(header)) != len(header) or any(len(r) != len(header) for r in rows):
        return None
    get = operator.itemgetter(*keep)
    return [header[i] for i in keep], [get(r) for r in rows[1:]]


# --- annotator IDs --------------------------------------------------------------------------------------------


def pseudonym(participant_id: str) -> str:
    """Stable pseudonym of a participant ID: ``a_`` + 12 hex digits of an HMAC-SHA256 with a fixed salt.

    Pseudonyms are left as they are, so pseudonymising twice changes nothing.

    >>> p = pseudonym("5f032c613963d04d69c9327b")
    >>> p == pseudonym("5f032c613963d04d69c9327b"), len(p), pseudonym(p) == p
    (True, 14, True)
    """
    if PSEUDONYM_RE.fullmatch(participant_id):
        return participant_id
    return "a_" + hmac.new(PSEUDONYM_SALT, participant_id.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def pseudonymise_records(records: dict[str, Any], where: str = ID_JSON) -> dict[str, Any]:
    """Replace the annotator keys of {book: {group: {id: label}}} records by pseudonyms.

    >>> out = pseudonymise_records({"B": {"genre": "F", "Democrat": {"664f": "1: Very unlikely"}}})
    >>> out["B"]["genre"], list(out["B"]["Democrat"].values()), list(out["B"]["Democrat"])[0].startswith("a_")
    ('F', ['1: Very unlikely'], True)
    """
    out: dict[str, Any] = {}
    for book, record in records.items():
        if not isinstance(record, dict):
            raise DataError(f"{where}: record {book!r} is not an object")
        out[book] = {
            k: v if k in RECORD_FIELDS or not isinstance(v, dict) else _rekey(v, f"{where}: {book!r}/{k}")
            for k, v in record.items()
        }
    return out


def _rekey(labels: dict[str, Any], where: str) -> dict[str, Any]:
    """``{id: label}`` -> ``{pseudonym(id): label}``; two IDs with one pseudonym is an error."""
    out = {pseudonym(pid): label for pid, label in labels.items()}
    if len(out) != len(labels):
        raise DataError(f"{where}: two annotator IDs share a pseudonym")
    return out


def pseudonymise_json(data: bytes, where: str = ID_JSON) -> bytes:
    """The ID JSON file with pseudonymised annotator keys (4-space indent, as released)."""
    try:
        records = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{where}: not a JSON file ({e})") from None
    if not isinstance(records, dict):
        raise DataError(f"{where}: expected an object of books")
    return json.dumps(pseudonymise_records(records, where), indent=4).encode("utf-8")


def read_annotation_json(path: Path | str) -> dict[str, Any]:
    """Load the per-annotator NYT labels; any raw annotator ID still on disk is pseudonymised on load."""
    records = read_json(path)
    if not isinstance(records, dict):
        raise DataError(f"{path}: expected an object of books")
    return pseudonymise_records(records, str(path))
