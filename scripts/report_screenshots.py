"""Screenshots of the results report for the README, taken with the system Chromium through Playwright.

    python scripts/report_screenshots.py results/report docs/figures

Writes ``report_leaderboard.png``, ``report_differences.png``, ``report_explorer.png`` and ``report_health.png``
(1400 × 1000 viewport, the top of each page). The explorer shot opens ``--explorer`` with a fragment that filters it
(default: Llama 3 70B's NYT sequence replies that did not parse, from the released generations).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FLAGS += ["--disable-component-update", "--no-first-run"]


def main() -> None:
    """Take the four screenshots."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("report_dir", type=Path)
    p.add_argument("output_dir", type=Path)
    p.add_argument("--explorer", default="explore-llama3-70b-nytimes.html#method=Seq&status=failed")
    args = p.parse_args()
    shots = {
        "report_leaderboard.png": "index.html",
        "report_differences.png": "differences.html",
        "report_explorer.png": args.explorer,
        "report_health.png": "health.html",
    }
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, target in shots.items():
            file, _, fragment = target.partition("#")
            page.goto((args.report_dir / file).resolve().as_uri() + (f"#{fragment}" if fragment else ""))
            page.wait_for_load_state("load")
            page.screenshot(path=str(args.output_dir / name))
            print(args.output_dir / name)
        browser.close()


if __name__ == "__main__":
    main()
