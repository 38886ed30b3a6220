"""Participant privacy (distalign/data/privacy.py): identifying columns and IDs never written, never loaded."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distalign.data import privacy
from distalign.data.privacy import (
    ID_JSON,
    is_identifying,
    pseudonym,
    read_annotation_csv,
    read_annotation_json,
    strip_csv,
    transform,
)
from distalign.files import DataError

PII = [
    "IPAddress",
    "LocationLatitude",
    "LocationLongitude",
    "RecipientEmail",
    "RecipientFirstName",
    "RecipientLastName",
    "ExternalReference",
    "ExternalDataReference",
    "Q84",
    "PROLIFIC_PID",
    "workerId",
    "hitId",
    "assignmentId",
    "ResponseId",
    "QDem_Race_6_TEXT",
    "Q_DemRepub_6_TEXT",
    "Q143",
    "Comments",
    "feedback_final",
    "Prolific ID",
]
KEPT = [
    "",
    "StartDate",
    "Status",
    "QDem_Gend",
    "QDem_Race",
    "Q_DemRepub",
    "QDem_Age",
    "1_Q138",
    "1_Q_NoSteering_1",
    "Q133_1",
    "Q87",
    "Q136",
    "Q_RecaptchaScore",
    "Title and Author",
]
PID_A, PID_B = "6641edad07bdb5ab55169227", "665294bea976e31f9602bf76"


# Two respondents, in the column order of pii_csv's header: identifying values filled in.
ROWS = (
    [
        "Female",
        "10.1.2.3",
        "37.4",
        "-122.1",
        "x@y.org",
        "Ann",
        "Lee",
        "ref1",
        "ref2",
        "3: Somewhat likely",
        PID_A,
        PID_A,
        "w1",
        "h1",
        "a1",
        "R_abc",
        "mixed race",
        "Independent",
        "too vague",
        "nice",
        "fb",
        PID_A,
        'multi\nline, "quoted"',
    ],
    [
        "Male",
        "10.9.9.9",
        "40.0",
        "-70.0",
        "z@y.org",
        "Bob",
        "Roe",
        "ref3",
        "ref4",
        "1: Very unlikely",
        PID_B,
        PID_B,
        "w2",
        "h2",
        "a2",
        "R_def",
        "",
        "",
        "",
        "",
        "",
        PID_B,
        "",
    ],
)


def pii_csv(terminator: str = "\n", bom: str = "") -> bytes:
    header = ["QDem_Gend", *PII[:8], "1_Q138", *PII[8:], "Note"]
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=terminator).writerows([header, *ROWS])
    return (bom + out.getvalue()).encode("utf-8")


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("column", PII)
def test_identifying_columns(column: str) -> None:
    assert is_identifying(column)


@pytest.mark.parametrize("column", KEPT)
def test_kept_columns(column: str) -> None:
    assert not is_identifying(column)


@pytest.mark.parametrize(("terminator", "bom"), [("\n", ""), ("\r\n", ""), ("\r\n", "\ufeff")])
def test_strip_csv_drops_pii_keeps_the_rest(terminator: str, bom: str) -> None:
    raw = pii_csv(terminator, bom)
    out = strip_csv(raw, "t.csv")
    before, after = parse(raw), parse(out)
    assert after[0] == ["QDem_Gend", "1_Q138", "Note"]
    keep = [before[0].index(c) for c in after[0]]
    assert after == [[row[i] for i in keep] for row in before]  # same rows, same values
    assert out.startswith(bom.encode()) and out.decode("utf-8-sig").split("QDem_Gend,1_Q138,Note")[1].startswith(
        terminator
    )
    for secret in (PID_A, PID_B, "10.1.2.3", "x@y.org", "R_abc", "mixed race", "too vague"):
        assert secret.encode() not in out


def test_csv_without_pii_is_byte_identical() -> None:
    raw = b'Year,Summary\r\n2023,"A, B"\r\n'
    assert strip_csv(raw) == raw
    assert transform("results/human_annotations/NYTIMES_BOOK_DATASET.csv", raw) == raw


def test_ragged_or_non_utf8_csv_is_an_error_naming_the_file() -> None:
    with pytest.raises(DataError, match="bad.csv: record 2"):
        strip_csv(b"a,IPAddress\n1\n", "bad.csv")
    with pytest.raises(DataError, match="bad.csv: not UTF-8"):
        strip_csv(b"a,b\n\xff\n", "bad.csv")


def test_transform_scope() -> None:
    raw = pii_csv()
    assert transform("results/human_annotations/s.csv", raw) != raw
    assert transform("nytimes/individual_annotations/nytimes_annotator_demographics.csv", raw) != raw
    assert transform("results/nytimes/sequence/x.csv", raw) == raw  # not a human-study file
    assert not privacy.applies("results/human_annotations/data_nums.json")


def test_demographics_csv_loses_q84() -> None:
    raw = f",QDem_Gend,Q84,QDem_Age\n0,Male,{PID_A},23\n1,Female,{PID_B},31\n".encode()
    out = transform("nytimes/individual_annotations/nytimes_annotator_demographics.csv", raw)
    assert out == b",QDem_Gend,QDem_Age\n0,Male,23\n1,Female,31\n"


def test_read_annotation_csv_never_loads_pii_still_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_bytes(pii_csv())  # a file that was NOT stripped on write
    df = read_annotation_csv(path)
    assert list(df.columns) == ["QDem_Gend", "1_Q138", "Note"]
    assert len(df) == 2
    assert PID_A not in df.to_csv()
    assert list(read_annotation_csv(path, usecols=["QDem_Gend", "IPAddress"]).columns) == ["QDem_Gend"]
    with pytest.raises(DataError, match="missing.csv: file not found"):
        read_annotation_csv(tmp_path / "missing.csv")


def id_records() -> dict[str, dict[str, object]]:
    email = "5dc12689c0621a0910906454@email.prolific.com"
    return {
        "Book One": {
            "MC_options": [1, 2, 3, 4],
            "genre": "Fiction",
            "summary": "S1",
            "Democrat": {PID_A: "1: Very unlikely", email: "2: Somewhat unlikely"},
            "Female": {PID_A: "1: Very unlikely"},
        },
        "Book Two": {
            "MC_options": [1, 2, 3, 4],
            "genre": "Memoir",
            "summary": "S2",
            "Republican": {PID_B: "4: Very likely"},
            "Male": {PID_B: "4: Very likely", email: "3"},
        },
    }


def test_id_json_is_pseudonymised_consistently() -> None:
    raw = json.dumps(id_records(), indent=4).encode()
    out = transform(ID_JSON, raw)
    for secret in (PID_A, PID_B, "prolific"):
        assert secret.encode() not in out
    got = json.loads(out)
    a, b = pseudonym(PID_A), pseudonym(PID_B)
    assert got["Book One"]["Democrat"][a] == "1: Very unlikely" and got["Book One"]["Female"] == {a: "1: Very unlikely"}
    assert got["Book Two"]["Republican"] == {b: "4: Very likely"}
    email_p = pseudonym("5dc12689c0621a0910906454@email.prolific.com")
    assert set(got["Book One"]["Democrat"]) == {a, email_p} and email_p in got["Book Two"]["Male"]
    for book in ("Book One", "Book Two"):
        assert {k: got[book][k] for k in ("MC_options", "genre", "summary")} == {
            k: id_records()[book][k] for k in ("MC_options", "genre", "summary")
        }
    assert transform(ID_JSON, out) == out  # idempotent: pseudonyms are not hashed again


def test_pseudonym_is_stable_and_salted() -> None:
    assert pseudonym(PID_A) == pseudonym(PID_A) != pseudonym(PID_B)
    assert pseudonym(PID_A).startswith("a_") and len(pseudonym(PID_A)) == 14
    assert PID_A[:12] not in pseudonym(PID_A)


def test_read_annotation_json_pseudonymises_raw_ids_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(id_records()))
    got = read_annotation_json(path)
    assert PID_A not in json.dumps(got) and pseudonym(PID_A) in got["Book One"]["Democrat"]


@given(
    st.lists(st.sampled_from(PII + KEPT), min_size=1, max_size=8, unique=True),
    st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=6), min_size=8, max_size=8),
)
def test_strip_csv_keeps_exactly_the_non_identifying_columns(header: list[str], values: list[str]) -> None:
    out = io.StringIO(newline="")
    csv.writer(out).writerows([header, values[: len(header)]])
    stripped = parse(strip_csv(out.getvalue().encode("utf-8")))
    keep = [i for i, c in enumerate(header) if not is_identifying(c)]
    expected = [[header[i] for i in keep], [values[i] for i in keep]]
    assert stripped == expected or (not keep and stripped in ([], [[]], [[], []]))
