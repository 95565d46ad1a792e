"""Fixtures of the admin API and admin page tests: an app on the test database, seeded
orgs and API keys, the org's identity provider, and signing in to the admin pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory, GroupMember
from mappings.directory import DirectoryGroup as DirGroup
from mappings.directory import DirectoryUser as DirUser
from scim_server.api.context import SESSION_FACTORY_KEY
from scim_server.app import create_app
from sync import mirror
from sync.credentials.apikeys import create_api_key
from sync.models import Member, Organisation, Workspace, WorkspaceRole
from sync.settings import Settings
from sync.store.mappings import save_mapping
from tests.fakes.oidc import FakeOidc
from tests.fakes.scim import FakeScim


@dataclass(frozen=True, slots=True)
class Seeded:
    """An org made for a test and the keys made for it (role -> key)."""

    id: int
    name: str
    keys: Mapping[str, str]

    def auth(self, role: str) -> dict[str, str]:
        """Headers authenticating as the key of ``role``."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def app(session_factory: sessionmaker[Session], tmp_path: Path) -> Iterator[Flask]:
    """The rolebridge app on the test database."""
    url = str(session_factory.kw["bind"].url.render_as_string(hide_password=False))
    app = create_app(Settings(database_url=url, instance_path=tmp_path, secret_key="test-secret"))
    app.config["TESTING"] = True
    app.extensions[SESSION_FACTORY_KEY] = session_factory
    yield app
    app.extensions["rolebridge"].engine.dispose()  # the SCIM endpoint's own pool


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')  # a form's CSRF token


def csrf_on(client: FlaskClient, path: str) -> str:
    """The CSRF token of the forms on the page at ``path``."""
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, key: str) -> str:
    """Sign in to the admin pages with the API key ``key``: the CSRF token of the
    session's forms."""
    token = csrf_on(client, "/admin/sign-in")
    r = client.post("/admin/sign-in", data={"api_key": key, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    return csrf_on(client, "/admin/")


@pytest.fixture
def provider() -> Iterator[FakeOidc]:
    """The org's identity provider (a loopback OpenID Connect server)."""
    fake = FakeOidc()
    yield fake
    fake.close()


@pytest.fixture
def scim_source() -> Iterator[FakeScim]:
    """The loopback SCIM server a scim-pull source reads, with one group."""
    fake = FakeScim()
    fake.load({"users": [], "groups": [{"id": "g-1", "displayName": "Staff", "members": []}]})
    yield fake
    fake.close()


def set_provider(client: FlaskClient, org: Seeded, provider: FakeOidc, role: str = "owner") -> None:
    """Set ``org``'s sign-in through ``provider`` with the admin API, as the key of ``role``."""
    body = {
        "issuer": provider.issuer,
        "client_id": provider.state.client_id,
        "client_secret": provider.state.client_secret,
    }
    r = client.put(f"/api/v1/orgs/{org.name}/oidc", json=body, headers=org.auth(role))
    assert r.status_code == 200, r.json


@pytest.fixture
def cli(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    """A CLI runner on the test database, its instance folder under tmp_path."""
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ROLEBRIDGE_INSTANCE", str(tmp_path / "instance"))
    return CliRunner()


MemberSpec = tuple[str, str, str, str, dict[str, list[str]]]  # email, role, status, origin, ws


@pytest.fixture
def seed(session_factory: sessionmaker[Session]) -> Callable[..., Seeded]:
    """Make an org with workspaces, members and one key per role given."""

    def _seed(
        name: str,
        role_model: str,
        key_roles: Sequence[str],
        members: Sequence[MemberSpec] = (),
        workspaces: Mapping[str, int] | None = None,
        plan: str = "enterprise",
        credits: int | None = None,
    ) -> Seeded:
        with session_factory.begin() as s:
            org = Organisation(name=name, role_model=role_model, plan=plan, credits=credits)
            s.add(org)
            s.flush()
            ws_ids = {}
            for ws, ws_credits in (workspaces or {}).items():
                row = Workspace(org_id=org.id, name=ws, credits=ws_credits)
                s.add(row)
                s.flush()
                ws_ids[ws] = row.id
            for email, role, status, origin, ws_roles in members:
                m = Member(org_id=org.id, email=email, org_role=role, status=status, origin=origin)
                s.add(m)
                s.flush()
                for ws, roles in ws_roles.items():
                    s.add_all(
                        WorkspaceRole(member_id=m.id, workspace_id=ws_ids[ws], role=r)
                        for r in roles
                    )
            keys = {r: create_api_key(s, org.id, r, [r], name=f"{r} key")[1] for r in key_roles}
            return Seeded(org.id, name, keys)

    return _seed


def directory_of(people: Mapping[str, Sequence[str]]) -> Directory:
    """A directory: email -> the groups the person is in (ids are the emails)."""
    names = sorted({g for groups in people.values() for g in groups})
    users = tuple(DirUser(id=e, user_name=e, emails=(e,)) for e in sorted(people))
    groups = tuple(
        DirGroup(
            id=f"g-{n}",
            display_name=n,
            members=tuple(GroupMember(e, "User") for e in sorted(people) if n in people[e]),
        )
        for n in names
    )
    return Directory(users=users, groups=groups)


@pytest.fixture
def put_directory(session_factory: sessionmaker[Session]) -> Callable[[int, Directory], None]:
    """Replace an org's directory (an okta source snapshot)."""

    def _put(org_id: int, directory: Directory) -> None:
        with session_factory.begin() as s:
            source = mirror.ensure_source(s, org_id, "okta", "okta")
            mirror.replace_snapshot(s, org_id, source.id, directory)

    return _put


@pytest.fixture
def save_version(session_factory: sessionmaker[Session]) -> Callable[[int, str], int]:
    """Save a mapping version for an org directly in the store."""

    def _save(org_id: int, document: str) -> int:
        with session_factory.begin() as s:
            return save_mapping(s, org_id, document, created_by="test").version

    return _save


IF_V1 = {"If-Match": '"v1"'}  # a mapping save made from version 1

MAPPING = """\
role_model: soterai
rules:
  - group: "Owners"
    org_role: owner
  - group: "Managers"
    org_role: manager
  - group: "Staff"
    org_role: member
policy:
  unmapped: remove
  max_removals: 5
"""

PEOPLE = {
    "olga@acme.com": ["Owners", "Staff"],
    "max@acme.com": ["Managers", "Staff"],
    "nina@acme.com": ["Staff"],
    "paul@acme.com": ["Staff"],
}


OLGA: MemberSpec = ("olga@acme.com", "owner", "joined", "idp", {})
MAX: MemberSpec = ("max@acme.com", "manager", "joined", "idp", {})
GONE: MemberSpec = ("gone@acme.com", "member", "joined", "idp", {})


@pytest.fixture
def seed_acme(
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
) -> Callable[..., Seeded]:
    """Make the soterai org "acme" with PEOPLE's directory and a saved mapping: the keys
    of ``roles``, the ``members`` given (olga owner and gone@ a member the IdP no longer
    has, by default) and ``mapping`` (MAPPING by default)."""

    def _make(
        roles: list[str],
        members: Sequence[MemberSpec] = (OLGA, GONE),
        mapping: str = MAPPING,
    ) -> Seeded:
        org = seed("acme", "soterai", roles, list(members))
        put_directory(org.id, directory_of(PEOPLE))
        save_version(org.id, mapping)
        return org

    return _make


@pytest.fixture
def acme(seed_acme: Callable[..., Seeded]) -> Seeded:
    """The soterai org: olga owner, max manager, gone@ a member the IdP no longer has."""
    return seed_acme(["owner", "manager", "member"], (OLGA, MAX, GONE))
