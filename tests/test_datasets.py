"""Dataset loaders (docs/original.md §2): every quirk on small fixtures built here, then the counts on the fetched data.

pytest tests/test_datasets.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distalign.datasets import NONE_GROUP, load_dataset
from distalign.datasets.globalvalues import parse_options
from distalign.files import DataError
from distalign.names import OQA_POOL, OQA_WAVE

REPO = Path(__file__).resolve().parents[1]
OQA = "opinions_qa/data/human_resp"


def write(root: Path, rel: str, obj: object) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


# ---- OpinionQA -------------------------------------------------------------------------------------------
def oqa_record(text: str, dems: dict[str, dict[str, float]]) -> dict:
    return {"MC_options": ["Yes", "was a reason", "No", "Refused"], "question_text": text, **dems}


@pytest.fixture
def oqa_root(tmp_path: Path) -> Path:
    q1 = oqa_record(
        "Was it a reason?",
        {
            "Democrat": {"No": 30.0, "Refused": 1.0, "Yes, was a reason": 69.0},
            "Republican": {"No": 50.0, "Yes, was a reason": 50.0},
        },
    )
    q2 = oqa_record(
        "Second?", {"Democrat": {"A lot": 2.0, "Not at all": 2.0}, "Republican": {"A lot": 1.0, "Not at all": 3.0}}
    )
    sex = {
        "Q1_W1": oqa_record("Was it a reason?", {"Female": {"No": 1.0, "Yes, was a reason": 3.0}, "Male": {}}),
        "Q2_W1": oqa_record("Second?", {"Female": {"A lot": 1.0}, "Male": {"Not at all": 2.0}}),
    }
    pool_q3 = oqa_record(
        "Pool only?",
        {
            "Democrat": {"Maybe": 1.0, "No": 3.0},
            "Republican": {"No": 1.0},
            "Female": {"No": 2.0},
            "Male": {"Maybe": 2.0},
        },
    )
    for group, data in (("POLPARTY", {"Q2_W1": q2, "Q1_W1": q1}), ("SEX", sex), ("RACE", {})):
        write(tmp_path, f"{OQA}/{OQA_WAVE}/{group}_data.json", data)
        pool = {**data, "Q3_W1": pool_q3 if group != "RACE" else {}}
        write(tmp_path, f"{OQA}/{OQA_POOL}/{group}_data.json", pool)
    write(
        tmp_path,
        f"{OQA}/{OQA_WAVE}/question_similarity_top10.json",
        {"Q1_W1": ["Q3_W1", "Q2_W1"], "Q2_W1": ["Q1_W1", "Q2_W1", "Q3_W1"]},
    )
    return tmp_path


def test_oqa_evaluation_set_is_the_group_file_keys_in_order(oqa_root: Path) -> None:
    ds = load_dataset("opinionqa", oqa_root)
    assert ds.question_ids() == ["Q2_W1", "Q1_W1"]
    assert ds.pool_size() == 3
    assert ds.demographics()[:2] == [("POLPARTY", "Democrat"), ("POLPARTY", "Republican")]


def test_oqa_options_are_the_observed_ones_alphabetical_with_refused(oqa_root: Path) -> None:
    ds = load_dataset("opinionqa", oqa_root)
    dem = ds.item("Q1_W1", "POLPARTY", "Democrat")
    assert dem.options == ("No", "Refused", "Yes, was a reason")  # not the comma-split MC_options
    assert dem.truth is not None and dem.truth.letters == ("A", "B", "C")
    assert dem.truth.probs == pytest.approx((0.30, 0.01, 0.69))
    rep = ds.item("Q1_W1", "POLPARTY", "Republican")
    assert rep.options == ("No", "Yes, was a reason") and rep.persona == "Republican"
    assert ds.survey_options("Q1_W1") == ["Yes", "was a reason", "No", "Refused"]  # kept for paper mode


def test_oqa_empty_demographic_has_no_options_and_no_truth(oqa_root: Path) -> None:
    male = load_dataset("opinionqa", oqa_root).item("Q1_W1", "SEX", "Male")
    assert male.options == () and male.truth is None


def test_oqa_no_steering_shows_the_democrat_options(oqa_root: Path) -> None:
    none = load_dataset("opinionqa", oqa_root).item("Q1_W1", NONE_GROUP, NONE_GROUP)
    assert none.options == ("No", "Refused", "Yes, was a reason") and none.truth is None and none.persona == ""


def test_oqa_neighbours_come_from_the_pool_never_the_target(oqa_root: Path) -> None:
    nbs = load_dataset("opinionqa", oqa_root).neighbours("Q2_W1", "SEX", "Male")
    assert [n.qid for n in nbs] == ["Q1_W1", "Q3_W1"]
    assert nbs[0].truth is None  # Male has no respondents on Q1: the steering layer skips it
    assert nbs[1].text == "Pool only?" and nbs[1].options == ("Maybe",)


def test_oqa_errors_name_file_and_key(oqa_root: Path) -> None:
    ds = load_dataset("opinionqa", oqa_root)
    with pytest.raises(DataError, match=r"POLPARTY_data\.json.*missing key 'Q9_W1'"):
        ds.item("Q9_W1", "POLPARTY", "Democrat")
    with pytest.raises(DataError, match=r"POLPARTY_data\.json.*missing key 'Independent'"):
        ds.item("Q1_W1", "POLPARTY", "Independent")
    with pytest.raises(ValueError, match="unknown OpinionQA group 'AGE'"):
        ds.item("Q1_W1", "AGE", "18-29")
    bad = json.loads((oqa_root / f"{OQA}/{OQA_WAVE}/POLPARTY_data.json").read_text())
    bad["Q1_W1"]["Democrat"]["No"] = "thirty"
    write(oqa_root, f"{OQA}/{OQA_WAVE}/POLPARTY_data.json", bad)
    with pytest.raises(DataError, match=r"\['Q1_W1'\]\['Democrat'\]: expected a non-negative number, found 'thirty'"):
        load_dataset("opinionqa", oqa_root).item("Q1_W1", "POLPARTY", "Democrat")


def test_missing_data_folder_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found; fetch the data first: python -m distalign.data fetch"):
        load_dataset("nytimes", tmp_path).question_ids()


# ---- NYT --------------------------------------------------------------------------------------------------
LIKERT = ["1: Very unlikely", "2: Somewhat unlikely", "3: Somewhat likely", "4: Very likely"]


@pytest.fixture
def nyt_root(tmp_path: Path) -> Path:
    book = {
        "MC_options": LIKERT,
        "genre": "Fiction",
        "summary": "A novel.",
        "Democrat": {LIKERT[3]: 2, LIKERT[0]: 6},
        "Republican": dict.fromkeys(LIKERT, 5),
        "Male": dict.fromkeys(LIKERT, 1),
        "Female": {LIKERT[1]: 4},
    }
    other = {**book, "summary": "Another one."}
    data = {"Book One By A": book, "Book Two By B": other}
    for group in ("NONE", "POLPARTY", "SEX"):
        write(tmp_path, f"nytimes/{group}_data.json", data)
    write(
        tmp_path,
        "nytimes/question_similarity_top10.json",
        {"Book One By A": ["Book Two By B"], "Book Two By B": ["Book One By A"]},
    )
    return tmp_path


def test_nyt_fixed_likert_order_with_zero_counts(nyt_root: Path) -> None:
    ds = load_dataset("nytimes", nyt_root)
    assert ds.question_ids() == ["Book One By A", "Book Two By B"]
    assert ds.demographics() == [
        ("POLPARTY", "Democrat"),
        ("POLPARTY", "Republican"),
        ("SEX", "Male"),
        ("SEX", "Female"),
    ]
    dem = ds.item("Book One By A", "POLPARTY", "Democrat")
    assert dem.options == tuple(LIKERT)
    assert dem.truth is not None and dem.truth.probs == (0.75, 0.0, 0.0, 0.25)  # dict order does not matter
    assert dict(dem.details) == {"Book Title": "Book One By A", "Book Genre": "Fiction", "Book Summary": "A novel."}
    assert ds.item("Book One By A", "NONE", "NONE").truth is None
    assert [n.qid for n in ds.neighbours("Book One By A", "SEX", "Female")] == ["Book Two By B"]


def test_nyt_rejects_an_unexpected_scale(nyt_root: Path) -> None:
    data = json.loads((nyt_root / "nytimes/SEX_data.json").read_text())
    data["Book One By A"]["MC_options"] = LIKERT[::-1]
    write(nyt_root, "nytimes/SEX_data.json", data)
    with pytest.raises(DataError, match=r"SEX_data\.json\['Book One By A'\]: MC_options .* differ from the Likert"):
        load_dataset("nytimes", nyt_root).item("Book One By A", "SEX", "Male")


# ---- GlobalValues -------------------------------------------------------------------------------------------
GV_Q = "Is China's growing military power good or bad for our country?"


@pytest.fixture
def gv_root(tmp_path: Path) -> Path:
    data = {
        GV_Q: {
            "Germany": [0.1, 0.8, 0.1],
            "Japan": [0.05, 0.9, 0.05],
            "Kenya": [0.6, 0.3, 0.1],
            "Chile": [0.3, 0.3, 0.4],
            "MC_options": "['Good thing', 'Bad thing', 'DK/Refused']",
            "countries": ["Japan", "Kenya", "Germany", "Chile"],
        }
    }
    sims = {GV_Q: {c: {"Do you trust the UN?": [{"Yes": 0.7, "No": 0.3}]} for c in ("Japan", "Kenya", "Germany")}}
    write(tmp_path, "Global_Values/data/data.json", data)
    write(tmp_path, "Global_Values/data/question_similarity.json", sims)
    return tmp_path


def test_gv_groups_are_positions_in_each_questions_country_list(gv_root: Path) -> None:
    ds = load_dataset("globalvalues", gv_root)
    cells = [ds.item(GV_Q, "globalvalues", g) for g in ("0", "1", "2")]
    assert [c.persona for c in cells] == ["Japan", "Kenya", "Germany"]  # persona prompts name the country
    assert [c.demographic for c in cells] == ["0", "1", "2"]
    assert cells[1].options == ("Good thing", "Bad thing", "DK/Refused")
    assert cells[1].truth is not None and cells[1].truth.probs == (0.6, 0.3, 0.1)
    nb = ds.neighbours(GV_Q, "globalvalues", "1")
    assert [(n.qid, n.persona, n.options) for n in nb] == [("Do you trust the UN?", "Kenya", ("Yes", "No"))]
    with pytest.raises(ValueError, match="unknown GlobalValues group '3'"):
        ds.item(GV_Q, "globalvalues", "3")


def test_gv_option_literal_is_parsed_safely() -> None:
    assert parse_options("['a', 'b']", "f") == ("a", "b")
    for raw in ("__import__('os').system('true')", "['a', 1]", "[]", "not a list", 42):
        with pytest.raises(DataError, match="MC_options is not a list literal of strings"):
            parse_options(raw, "f")


def test_gv_probability_count_must_match_the_options(gv_root: Path) -> None:
    data = json.loads((gv_root / "Global_Values/data/data.json").read_text())
    data[GV_Q]["Kenya"] = [0.5, 0.5]
    write(gv_root, "Global_Values/data/data.json", data)
    with pytest.raises(DataError, match=r"data\.json\[.*\]\['Kenya'\]: expected 3 probabilities"):
        load_dataset("globalvalues", gv_root).item(GV_Q, "globalvalues", "1")


# ---- the fetched release ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fetched() -> Path:
    if not (REPO / "Global_Values/data/data.json").exists():
        pytest.skip("benchmark data not fetched (python -m distalign.data fetch)")
    return REPO


@pytest.mark.data
def test_fetched_counts(fetched: Path) -> None:
    oqa, nyt, gv = (load_dataset(n, fetched) for n in ("opinionqa", "nytimes", "globalvalues"))
    assert (len(oqa.question_ids()), oqa.pool_size()) == (100, 494)
    assert len(nyt.question_ids()) == 235 and len(gv.question_ids()) == 100
    male = oqa.item("FEM2_W29", "SEX", "Male")
    assert male.options == () and male.truth is None
    first = oqa.item("GAP21Q33_g_W82", "POLPARTY", "Democrat")
    assert first.options == ("No priority", "Refused", "Some priority", "Top priority")
    assert first.truth is not None and first.truth.probs[0] == pytest.approx(0.29906542056074764)


@pytest.mark.data
def test_fetched_gv_personas_are_country_names(fetched: Path) -> None:
    gv = load_dataset("globalvalues", fetched)
    names = {gv.item(q, "globalvalues", g).persona for q in gv.question_ids() for g in ("0", "1", "2")}
    assert len(names) == 26 and "Jordan" in names and not names & {"0", "1", "2"}
    q = gv.question_ids()[0]
    assert [gv.item(q, "globalvalues", g).persona for g in "012"] == ["Indonesia", "Philippines", "Japan"]
