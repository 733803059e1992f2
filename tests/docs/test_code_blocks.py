"""Every code block in README.md and docs/*.md runs as written (docs/internals.md,
"Code blocks in the docs"), and the runner itself fails where it must."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docblocks import REPO, DocFormatError, console_script, extract, report, run_file

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])
def test_every_block_runs_as_written(doc: Path, tmp_path: Path) -> None:
    outcomes = run_file(doc, tmp_path / "reader")
    if any(o.status == "FAILED" for o in outcomes):
        pytest.fail(f"a code block of {doc.relative_to(REPO)} failed:\n{report(outcomes)}",
                    pytrace=False)


def test_the_readme_has_blocks_that_run() -> None:
    # Guards the extractor: a parser that found nothing would pass every file.
    runnable = [b for b in extract(REPO / "README.md") if b.runner and b.not_run is None]
    assert any(b.lang == "python" for b in runnable)
    assert any(b.runner in ("shell", "console") for b in runnable)


_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s#]+)")


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])
def test_links_lead_to_files_of_the_clone(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = [target for target in _LINK.findall(text)
               if not (doc.parent / target).exists()]
    assert not missing, f"{doc.relative_to(REPO)} links to files a clone does not have: {missing}"


_REPO_PATH = re.compile(r"`((?:ops|src|docs|tests|benchmarks|data|migrations|projections)/[^`\s]*)`")


def test_the_readme_names_no_file_outside_the_clone() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    # ../shared holds the project's design notes and the SRD data on its own machines only.
    assert "../shared" not in text
    missing = [path for path in _REPO_PATH.findall(text) if not (REPO / path).exists()]
    assert not missing, f"README.md names files a clone does not have: {missing}"


# --- the runner's own rules, on made-up documents ---------------------------------------


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unmarked_failing_block_fails_naming_its_line(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "# t\n\n```python\nx = 1\n```\n\ntext\n\n```python\n"
                         "raise ValueError('boom')\n```\n\n```bash\necho after\n```\n")
    outcomes = run_file(doc, tmp_path / "w")
    assert [o.status for o in outcomes] == ["ok", "FAILED", "not reached"]
    text = report(outcomes)
    assert f"{doc}:9 (python) failed" in text
    assert "ValueError: boom" in text
    assert f'File "{doc}", line 10' in text   # the traceback names the doc's own line


def test_marked_blocks_are_not_run_and_other_languages_are_shown(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "<!-- not-run: needs Docker -->\n```bash\nexit 7\n```\n\n"
                         "```json\n{\"not\": code}\n```\n\n```sh\ntrue\n```\n")
    outcomes = run_file(doc, tmp_path / "w")
    assert [(o.status, o.output) for o in outcomes][:2] == [("not-run", "needs Docker"),
                                                           ("shown", "")]
    assert outcomes[2].status == "ok"


def test_a_shell_block_fails_on_any_failing_command(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "```bash\nfalse\necho never\n```\n")
    [outcome] = run_file(doc, tmp_path / "w")
    assert outcome.status == "FAILED" and "never" not in outcome.output


def test_blocks_of_a_file_share_a_directory_and_python_globals(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "```bash\necho hello > note.txt\ntest -d data/packs/starter\n```\n"
                         "```python\ntext = open('note.txt').read()\n```\n"
                         "```python\nassert text == 'hello\\n', text\n```\n"
                         "```console\n$ questlog --help | \\\n    grep -q 'Usage'\n"
                         "Usage: questlog ...\n$ test -f note.txt\n```\n")
    outcomes = run_file(doc, tmp_path / "w")
    assert [o.status for o in outcomes] == ["ok"] * 4, report(outcomes)


def test_console_blocks_run_only_the_prompted_lines() -> None:
    script = console_script("$ questlog init\ncreated store\n$ echo a \\\n  b\na b\n")
    assert script == "questlog init\necho a \\\n  b\n"


@pytest.mark.parametrize("text, problem", [
    ("<!-- not-run: -->\n```bash\ntrue\n```\n", "needs a reason"),
    ("<!-- not-run: why -->\n\nsome text\n```bash\ntrue\n```\n", "just before"),
    ("```bash\ntrue\n```\n<!-- not-run: why -->\n", "no block after it"),
    ("<!-- not-run why -->\n```bash\ntrue\n```\n", "alone on its line"),
    ("```bash\ntrue\n", "never closed"),
])
def test_marker_mistakes_are_errors(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(DocFormatError, match=problem):
        extract(_doc(tmp_path, text))
