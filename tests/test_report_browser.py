"""The report in a real browser: Chromium from the system packages, driven by Playwright, pages opened from file://.

The leaderboard sorts by a column and switches datasets, the explorer filters to parse failures and shows the raw
reply, a hostile reply is shown as text and runs nothing, and no page logs a console error or requests anything
from the network. Chromium comes from ``scripts/install_browser.sh`` (``scripts/test.sh`` runs it when
``/usr/bin/chromium`` is missing); without it these tests are skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report_fixtures import HOSTILE, RELEASED, make_report

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (bash scripts/install_browser.sh)"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return make_report(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


class Watched:
    """A page that records console errors, uncaught exceptions and every request that is not to a local file."""

    def __init__(self, browser) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else self.problems.append(r.url))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))

    def open(self, path: Path, fragment: str = "") -> sync_api.Page:
        self.page.goto(path.resolve().as_uri() + fragment)
        self.page.wait_for_load_state("load")
        return self.page


@pytest.fixture
def watched(browser):
    w = Watched(browser)
    yield w
    w.page.close()
    assert w.problems == []


def visible_table(page) -> sync_api.Locator:
    return page.locator("[data-view]:not([hidden]) table")


def column(page, index: int) -> list[str]:
    return (
        visible_table(page)
        .locator(f"tbody tr td:nth-child({index})")
        .evaluate_all("cells => cells.map(c => c.getAttribute('data-sort') || c.textContent.trim())")
    )


def test_leaderboard_sorts_by_a_column(report, watched):
    page = watched.open(report.output_dir / "index.html")
    header = visible_table(page).locator("thead th", has_text="Seq")
    index = 1 + visible_table(page).locator("thead th").all_text_contents().index(header.text_content())
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    values = [float(v) for v in column(page, index)]
    assert values == sorted(values) and len(set(values)) > 2
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert [float(v) for v in column(page, index)] == sorted(values, reverse=True)
    page.locator("thead th", has_text="Model").first.click()
    names = column(page, 1)
    assert names == sorted(names)


def test_switching_dataset_changes_the_rows(report, watched):
    page = watched.open(report.output_dir / "index.html")
    headline = visible_table(page).inner_text()
    assert visible_table(page).count() == 1 and RELEASED in headline
    page.select_option("#view-dataset", "nytimes")
    assert page.locator("#view-steering").input_value() == "task1"  # the first steering NYT has
    nyt = visible_table(page).inner_text()
    assert visible_table(page).count() == 1 and nyt != headline and RELEASED not in nyt
    page.select_option("#view-steering", "task0")
    assert visible_table(page).inner_text() != nyt
    page.select_option("#view-dataset", "globalvalues")
    assert page.locator("#view-steering").input_value() == "task1"  # GlobalOpinionQA has no task 0
    assert page.locator("#view-steering option[value=task0]").get_attribute("disabled") is not None


def test_explorer_filters_to_parse_failures_and_shows_the_raw_reply(report, watched):
    page = watched.open(report.output_dir / f"explore-{RELEASED}-opinionqa.html")
    assert page.locator("#count").inner_text().startswith("4 of 4")
    page.select_option("#f-status", "failed")
    assert page.locator("#count").inner_text().startswith("1 of 4")
    card = page.locator("#cells article")
    assert card.count() == 1 and card.locator(".badge.fail").inner_text() == "parse failure"
    assert card.locator("pre.reply").inner_text() == HOSTILE
    assert "no {...} object" in card.locator("p.error").inner_text()
    page.select_option("#f-status", "parsed")
    assert page.locator("#cells article .badge.fail").count() == 0 and page.locator("#cells article").count() == 3


def test_a_hostile_reply_is_text_and_runs_nothing(report, watched):
    for name, fragment in (
        (f"explore-{RELEASED}-opinionqa.html", "#status=failed"),
        ("explore-fake__garbage-opinionqa.html", "#method=V"),
    ):
        page = watched.open(report.output_dir / name, fragment)
        page.wait_for_timeout(200)  # an injected <img onerror> would have fired by now
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#cells img").count() == 0 and page.locator("#cells script").count() == 0
        assert page.locator("pre.reply", has_text="<script>window.__pwned").count() >= 1


def test_explorer_filters_from_the_address_and_pages_the_list(report, watched):
    page = watched.open(report.output_dir / "explore-fake__garbage-nytimes.html", "#method=Seq&status=failed")
    assert page.locator("#f-method option:checked").inner_text() == "Seq"
    texts = page.locator("#cells article header").all_inner_texts()
    assert texts and all("Seq" in t and "parse failure" in t for t in texts)
    page.fill("#f-search", "Book 2")
    assert all("Book 2" in t for t in page.locator("#cells .question").all_inner_texts())


def test_every_page_opens_without_errors(report, watched):
    for path in sorted(report.output_dir.glob("*.html")):
        page = watched.open(path)
        assert page.title().endswith("distalign report")
        for link in page.locator("header.top nav a").evaluate_all("as => as.map(a => a.getAttribute('href'))"):
            assert (report.output_dir / link).exists()
