"""The repository explains itself: the README's code map matches the tree, sizes stay small, references resolve.

* every module under ``distalign/`` is listed in the README's code map, and every listed module exists;
* no file over 300 lines, no function over 40 (package, tests, benchmarks, CLIs);
* nothing cites a document outside the repository, and every ``docs/original.md §N`` cited exists there;
* the project's own modules are imported by name, not as strings (the backend registry's lazy provider imports
  excepted).

    pytest tests/test_layout.py
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_FILE, MAX_FUNCTION = 300, 40


def code_map() -> set[str]:
    """The module paths the README's code map lists."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("Code map", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    listed, package = set(), ""
    for line in block.splitlines():
        if line.startswith("distalign/"):
            package = line.split()[0]
        elif line.startswith("  ") and line.split():
            listed.add(package + line.split()[0])
    return listed


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [REPO / p for p in out.split() if (REPO / p).is_file()]


def test_code_map_lists_every_module() -> None:
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "distalign").rglob("*.py")}
    listed = code_map()
    assert sorted(listed - modules) == [], "the code map lists modules that do not exist"
    assert sorted(modules - listed) == [], "modules missing from the README's code map"


def test_files_and_functions_stay_small() -> None:
    too_long = []
    for path in tracked("*.py"):
        source = path.read_text(encoding="utf-8")
        if len(source.splitlines()) > MAX_FILE:
            too_long.append(f"{path.relative_to(REPO)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION:
                    too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


def test_references_stay_inside_the_repository() -> None:
    outside = re.compile(r"SPEC ?§|SPEC\.md|[Ii]ssue #\d+|DEVELOPERS\.md|local_model\.md|\.\./shared/(SPEC|research)")
    sections = set(re.findall(r"^#+ (\d+(?:\.\d+)*)\.? ", (REPO / "docs/original.md").read_text(), re.MULTILINE))
    cited = re.compile(r"docs/original\.md §(\d+(?:\.\d+)*)")
    problems = []
    for path in tracked("distalign", "tests", "bench", "scripts", "*.py", "*.sh", "*.md"):
        text = path.read_text(encoding="utf-8", errors="replace")
        problems += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in outside.finditer(text)]
        for number in cited.findall(text):
            parent = number.rsplit(".", 1)[0]  # §11.1.4 is item 4 of §11.1, §8.2 item 2 of §8
            if number not in sections and parent not in sections:
                problems.append(f"{path.relative_to(REPO)}: docs/original.md §{number} does not exist")
    assert problems == []


def test_own_modules_are_imported_by_name() -> None:
    by_string = []
    for path in tracked("distalign"):
        if path.suffix == ".py" and path.name != "__init__.py":
            by_string += [
                f"{path.relative_to(REPO)}"
                for line in path.read_text().splitlines()
                if re.search(r"import_module\([\"']distalign", line)
            ]
    assert by_string == []
