"""Admin API, admin pages and CLI input past the documented limits: a 4xx naming the field.

Each answered 500 before: integers past the database's range, a 5,000-digit
``max_removals``, JSON nested 1,000 deep, YAML nested 10,000 deep, NUL characters in
admin paths and queries, a JSON list where an object belongs, CR/LF in ``next``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.models import MappingVersion
from tests.e2e.admin.conftest import IF_V1, MAPPING, Seeded, csrf_on, sign_in

DEEP_JSON = '{"document":' * 1000 + '"x"' + "}" * 1000
DEEP_YAML = "role_model: soterai\nrules: " + "[" * 10_000 + "]" * 10_000 + "\n"
HUGE = "9" * 5000


def _versions(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as s:
        return len(s.scalars(select(MappingVersion)).all())


@pytest.mark.parametrize("other", ["99999999999999999999", "2147483648", "-1", "²"])
def test_a_version_past_the_integer_range_is_a_422_naming_it(
    client: FlaskClient, acme: Seeded, other: str
) -> None:
    """mapping/diff?other=99999999999999999999 names ``other``; the admin page says so too."""
    r = client.get(
        f"/api/v1/orgs/acme/mapping/diff?base=1&other={other}", headers=acme.auth("owner")
    )
    assert (r.status_code, r.json["field"]) == (422, "other"), r.json
    sign_in(client, acme.keys["owner"])
    page = client.get(f"/admin/mapping/diff?base=1&other={other}")
    assert page.status_code == 422 and "2147483647" in page.get_data(as_text=True)
    assert client.get("/admin/mapping/diff?base=1&other=1").status_code == 200


@pytest.mark.parametrize("value", [HUGE, f'"{HUGE}"', "1000001"])
def test_a_max_removals_of_5000_digits_is_refused_naming_the_place(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session], value: str
) -> None:
    """Quoted or not, past the cap: validate says invalid and saving is a 422; no new version."""
    document = MAPPING.replace("max_removals: 5", f"max_removals: {value}")
    checked = client.post(
        "/api/v1/orgs/acme/mapping/validate",
        headers=acme.auth("owner"),
        json={"document": document},
    )
    assert checked.status_code == 200 and checked.json["valid"] is False
    (error,) = checked.json["errors"]
    assert error["field"] in ("policy.max_removals", "line 11, column 17"), error
    saved = client.put(
        "/api/v1/orgs/acme/mapping", headers=acme.auth("owner") | IF_V1, json={"document": document}
    )
    assert saved.status_code == 422, saved.json
    assert _versions(session_factory) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/orgs/acme/mapping/validate"),
        ("put", "/api/v1/orgs/acme/mapping"),
        ("post", "/api/v1/orgs/acme/preview"),
    ],
)
def test_json_nested_a_thousand_deep_is_a_400_problem(
    client: FlaskClient, acme: Seeded, method: str, path: str
) -> None:
    """The API refuses the body before parsing it."""
    headers = acme.auth("owner") | {"Content-Type": "application/json"}
    r = getattr(client, method)(path, data=DEEP_JSON, headers=headers)
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert "nested deeper" in r.json["detail"]


def test_json_nested_a_thousand_deep_to_an_admin_page_is_a_400(
    client: FlaskClient, acme: Seeded
) -> None:
    """The editor's preview and explain fetches refuse it too."""
    sign_in(client, acme.keys["owner"])
    token = csrf_on(client, "/admin/mapping")
    headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
    for path in ("/admin/mapping/preview", "/admin/explain"):
        r = client.post(path, data=DEEP_JSON, headers=headers)
        assert r.status_code == 400 and "nested deeper" in r.get_data(as_text=True)


def test_yaml_nested_ten_thousand_deep_is_refused_by_api_pages_and_cli(
    client: FlaskClient,
    acme: Seeded,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    """Validate, save (API and page) and ``mapping validate`` each name the line; nothing saved."""
    body = {"document": DEEP_YAML}
    checked = client.post(
        "/api/v1/orgs/acme/mapping/validate", headers=acme.auth("owner"), json=body
    )
    assert checked.json["valid"] is False
    assert "nested deeper" in checked.json["errors"][0]["detail"]
    saved = client.put("/api/v1/orgs/acme/mapping", headers=acme.auth("owner") | IF_V1, json=body)
    assert saved.status_code == 422 and saved.json["field"].startswith("line 2")
    sign_in(client, acme.keys["owner"])
    page = client.post(
        "/admin/mapping",
        data={
            "document": DEEP_YAML,
            "action": "save",
            "csrf_token": csrf_on(client, "/admin/mapping"),
        },
    )
    assert page.status_code == 200 and "nested deeper" in page.get_data(as_text=True)
    assert _versions(session_factory) == 1
    (tmp_path / "deep.yaml").write_text(DEEP_YAML)
    (tmp_path / "deep.json").write_text('{"rules": ' + "[" * 10_000 + "]" * 10_000 + "}")
    for name in ("deep.yaml", "deep.json"):
        result = CliRunner().invoke(main, ["mapping", "validate", str(tmp_path / name)])
        assert result.exit_code == 1 and "nested deeper" in result.output, result.output


def test_nul_in_an_admin_path_or_query_is_a_4xx(client: FlaskClient, acme: Seeded) -> None:
    """A NUL in the path is 404, in a query value 400 naming the parameter."""
    sign_in(client, acme.keys["owner"])
    assert client.get("/admin/members/a%00b").status_code == 404
    r = client.get("/admin/audit?user=a%00b")
    assert r.status_code == 400 and r.get_data(as_text=True).startswith("user:")
    assert client.get("/admin/?q=x%00").status_code == 400


def test_a_json_list_where_an_object_belongs_is_a_400(client: FlaskClient, acme: Seeded) -> None:
    """The editor's preview and explain fetches and the API refuse a list body."""
    sign_in(client, acme.keys["owner"])
    headers = {"X-CSRFToken": csrf_on(client, "/admin/mapping")}
    for path in ("/admin/mapping/preview", "/admin/explain"):
        r = client.post(path, json=["document"], headers=headers)
        assert r.status_code == 400 and "JSON object" in r.get_data(as_text=True)
    api = client.put("/api/v1/orgs/acme/mapping", headers=acme.auth("owner") | IF_V1, json=["x"])
    assert api.status_code == 422 and api.json["field"] == "$"


@pytest.mark.parametrize(
    "target", ["/admin/%0d%0aSet-Cookie:%20x=1", "/admin/%0aLocation:%20//evil"]
)
def test_sign_in_with_cr_lf_in_next_is_refused_without_a_redirect(
    client: FlaskClient, acme: Seeded, target: str
) -> None:
    """CR/LF in ``next`` is a 400 naming it; no header is injected and the key is not signed in."""
    token = csrf_on(client, "/admin/sign-in")
    r = client.post(
        f"/admin/sign-in?next={target}", data={"api_key": acme.keys["owner"], "csrf_token": token}
    )
    assert r.status_code == 400 and r.get_data(as_text=True).startswith("next:")
    assert "Location" not in r.headers and "x=1" not in r.headers.get("Set-Cookie", "")
    assert client.get("/admin/").status_code == 302  # still signed out
