"""Citations of docs/architecture.md name sections that exist, and no other design is cited.

Code, tests and examples cite the architecture document by section number
("docs/architecture.md section 6.1"); renumbering a section without moving its citations
would leave them pointing at the wrong text.
"""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
CITING = (
    "mappings",
    "sync",
    "scim_server",
    "rolebridge",
    "tests",
    "benchmarks",
    "examples",
    "scripts",
)
CITATION = re.compile(r"docs/architecture\.md\)?\s+section\s+(\d+(?:\.\d+)?)")
# a design document outside the repository, or by its old name
FOREIGN = re.compile(r"\bDESIGN(?:\.md|\s+section|\s+invariant)|\.\./shared/")


def _sections() -> set[str]:
    """The numbers of the document's headings: ``## 6. Plan`` -> 6, ``### 6.1 ...`` -> 6.1."""
    found = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", DOC.read_text(), flags=re.MULTILINE)
    return set(found)


def _files() -> list[pathlib.Path]:
    this = pathlib.Path(__file__).resolve()
    return [
        p
        for top in CITING
        for p in sorted((ROOT / top).rglob("*"))
        if p.suffix in {".py", ".md"} and p.resolve() != this
    ]


def test_every_citation_names_a_section_of_the_architecture_document() -> None:
    """Each "docs/architecture.md section N" in the tree is a heading of the document."""
    sections = _sections()
    cited = {
        f"{p.relative_to(ROOT)}: {n}"
        for p in _files()
        for n in CITATION.findall(p.read_text(errors="replace"))
    }
    assert cited, "nothing cites docs/architecture.md"
    assert {c for c in cited if c.rsplit(": ", 1)[1] not in sections} == set()


def test_nothing_cites_a_design_document_outside_the_repository() -> None:
    """No file cites the old design document by name or path."""
    offenders = {
        str(p.relative_to(ROOT)) for p in _files() if FOREIGN.search(p.read_text(errors="replace"))
    }
    assert offenders == set()


def test_the_section_numbers_are_read_from_the_headings() -> None:
    """The heading parser finds top-level and sub-sections (so a bad number can be caught)."""
    sections = _sections()
    assert {"1", "4", "4.3", "6.1", "11"} <= sections
    assert "99" not in sections
