"""The README's deployment section documents every setting rolebridge reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_rolebridge_variable_is_in_the_readme_table() -> None:
    """Each ROLEBRIDGE_* name used by the code has a row in the README's variable table."""
    used = set()
    for package in ("sync", "scim_server", "rolebridge"):
        for path in (ROOT / package).rglob("*.py"):
            used |= set(re.findall(r"ROLEBRIDGE_[A-Z_]+[A-Z]", path.read_text()))
    readme = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\| `(ROLEBRIDGE_[A-Z_]+|DATABASE_URL)` \|", readme, re.M))
    assert used, "the code reads ROLEBRIDGE_* settings"
    assert sorted(used - table) == []
    assert "DATABASE_URL" in table


def test_the_image_runs_gunicorn_as_an_unprivileged_user() -> None:
    """The Dockerfile's final stage drops root and starts gunicorn with rolebridge's config."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    assert "\nUSER rolebridge" in final
    assert "gcc" not in final and "pip install" not in final
    assert 'CMD ["gunicorn", "-c", "python:scim_server.gunicorn_conf"' in final
