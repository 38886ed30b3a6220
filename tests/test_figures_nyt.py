"""Tests of the NYT figures (distalign.figures.plots_nyt; docs/original.md §8): the parties' rating distributions
and the partisan books render from a small fixture (Agg backend) with the expected titles, legends and bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from figure_fixtures import bar_groups, results_folder, tick_texts  # noqa: E402

from distalign.figures import data, plots_nyt  # noqa: E402


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return results_folder(tmp_path)


def test_stereotyping_figure(results):
    table = data.stereotype_table(results, results.parent, seed=0)
    assert set(table["source"]) == {"truth", "human", "model"}
    model_n = table.loc[table["source"] == "model", "n"].unique().tolist()
    assert model_n == [2]  # two models averaged
    fig = plots_nyt.plot_stereotyping(table)
    assert [ax.get_title() for ax in fig.axes] == [
        "Democrats: how likely to read the book?",
        "Republicans: how likely to read the book?",
    ]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["ground truth", "humans · persona", "humans · few-shot", "LLMs · persona", "LLMs · few-shot"]


def test_partisan_books_figure(results):
    table = data.book_gaps(results.parent, n_each=3, seed=0)
    books = list(dict.fromkeys(table["book"]))
    gaps = table.drop_duplicates("book")["gap"].to_numpy()
    assert len(books) == 6 and np.all(np.diff(gaps) <= 0)  # largest Rep − Dem first
    fig = plots_nyt.plot_partisan_books(table)
    ax = fig.axes[0]
    assert [c.get_label() for c in bar_groups(ax)] == ["Democrats", "Republicans"]
    assert tick_texts(ax, "y")[0] == "Book {}\nAuthor {}".format(*[books[0].split()[1]] * 2)
