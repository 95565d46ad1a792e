"""The SCIM endpoint over HTTP: tenancy, errors, ETags, filters, paging, PATCH answers."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from sync.credentials.tokens import list_tokens, revoke_token
from sync.models import DirectoryUser, Source
from tests.e2e.conftest import Scim, group, make_org, user

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def test_a_request_without_a_token_gets_a_401_scim_error_with_a_bearer_challenge(
    scim: Scim,
) -> None:
    """No token: 401, WWW-Authenticate Bearer, a SCIM Error body."""
    response = scim.client.get("/scim/v2/Users")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.json is not None and response.json["schemas"] == [ERROR]


def test_an_unknown_token_is_refused(scim: Scim) -> None:
    """A token that was never issued is refused like a missing one."""
    forged = Scim(scim.client, "rbscim_" + "x" * 43)
    assert forged.get("/Users").status_code == 401


def test_a_revoked_token_is_refused(scim: Scim, session_factory: sessionmaker[Session]) -> None:
    """After revocation the same token no longer works."""
    assert scim.get("/Users").status_code == 200
    with session_factory.begin() as session:
        (info,) = list_tokens(session, "acme")
        revoke_token(session, "acme", info.id)
    assert scim.get("/Users").status_code == 401


def test_discovery_answers_without_a_token_and_tells_the_truth(scim: Scim) -> None:
    """ServiceProviderConfig says patch, filter, sort and etag yes; bulk and password no."""
    config = scim.client.get("/scim/v2/ServiceProviderConfig").json
    assert config is not None
    assert config["patch"]["supported"] is True
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["sort"]["supported"] is True
    assert config["etag"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["changePassword"]["supported"] is False
    types = scim.client.get("/scim/v2/ResourceTypes").json
    assert types is not None
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}


def test_another_orgs_resources_answer_404_and_never_match_a_filter(
    app: Flask, scim: Scim, session_factory: sessionmaker[Session]
) -> None:
    """Org B cannot read, find, change or delete what org A provisioned."""
    other = Scim(scim.client, make_org(session_factory, "globex"))
    created = scim.post("/Users", user("bob@acme.com")).json
    assert created is not None
    path = f"/Users/{created['id']}"
    assert other.get(path).status_code == 404
    assert other.put(path, user("bob@acme.com")).status_code == 404
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    assert other.patch(path, patch).status_code == 404
    assert other.delete(path).status_code == 404
    found = other.get('/Users?filter=userName eq "bob@acme.com"').json
    assert found is not None and found["totalResults"] == 0
    assert other.post("/Groups", group("g", created["id"])).status_code == 400
    assert scim.get(path).json["active"] is True  # type: ignore[index]


def test_a_user_name_differing_only_by_case_is_a_409_uniqueness(scim: Scim) -> None:
    """userName is unique per org whatever its case."""
    assert scim.post("/Users", user("Bob@Acme.com")).status_code == 201
    response = scim.post("/Users", user("bob@acme.com"))
    assert response.status_code == 409
    assert response.json is not None and response.json["scimType"] == "uniqueness"


def test_a_user_name_equal_after_casefolding_is_a_409_and_found_by_either_spelling(
    scim: Scim,
) -> None:
    """straße@ and strasse@ are one identity (one member key): the second POST is refused."""
    created = scim.post("/Users", user("strasse@corp.com")).json
    assert created is not None
    response = scim.post("/Users", user("straße@corp.com"))
    assert response.status_code == 409
    assert response.json is not None and response.json["scimType"] == "uniqueness"
    found = scim.get('/Users?filter=userName eq "STRAßE@corp.com"').json
    assert found is not None
    assert [r["id"] for r in found["Resources"]] == [created["id"]]


def test_renaming_a_user_to_a_taken_user_name_is_a_409_and_a_change_of_case_is_not(
    scim: Scim,
) -> None:
    """A PATCH checks the userName's uniqueness when it changes the name, not otherwise."""
    ann = scim.post("/Users", user("ann@acme.com")).json
    assert ann is not None and scim.post("/Users", user("ben@acme.com")).status_code == 201

    def rename(name: str) -> TestResponse:
        operation = {"op": "replace", "path": "userName", "value": name}
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
        return scim.patch(f"/Users/{ann['id']}", body | {"Operations": [operation]})

    taken = rename("BEN@acme.com")
    assert taken.status_code == 409
    assert taken.json is not None and taken.json["scimType"] == "uniqueness"
    stored = scim.get(f"/Users/{ann['id']}").json
    assert stored is not None and stored["userName"] == "ann@acme.com"
    recased = rename("Ann@Acme.com")
    assert recased.status_code == 200, recased.json
    stored = scim.get(f"/Users/{ann['id']}").json
    assert stored is not None and stored["userName"] == "Ann@Acme.com"


def test_two_groups_cannot_share_a_display_name_in_one_org(scim: Scim) -> None:
    """Entra relies on group displayName being unique per org."""
    assert scim.post("/Groups", group("Admins")).status_code == 201
    response = scim.post("/Groups", group("admins"))
    assert response.status_code == 409
    assert response.json is not None and response.json["scimType"] == "uniqueness"


def test_if_match_with_an_old_etag_is_a_412_and_changes_nothing(scim: Scim) -> None:
    """meta.version is the ETag; a stale If-Match is refused."""
    created = scim.post("/Users", user("ann@acme.com", displayName="Ann")).json
    assert created is not None
    path = f"/Users/{created['id']}"
    old = created["meta"]["version"]
    renamed = scim.put(path, user("ann@acme.com", displayName="Anne"), **{"If-Match": old})
    assert renamed.status_code == 200
    assert renamed.json is not None and renamed.json["meta"]["version"] != old
    stale = scim.put(path, user("ann@acme.com", displayName="Annie"), **{"If-Match": old})
    assert stale.status_code == 412
    assert scim.get(path).json["displayName"] == "Anne"  # type: ignore[index]


def test_a_filter_on_an_unknown_attribute_or_with_bad_grammar_is_invalid_filter(
    scim: Scim,
) -> None:
    """Both answer 400 with scimType invalidFilter."""
    for query in ('filter=shoeSize eq "42"', 'filter=userName eq "x" and'):
        response = scim.get(f"/Users?{query}")
        assert response.status_code == 400, query
        assert response.json is not None and response.json["scimType"] == "invalidFilter"


def test_paging_and_sorting_come_from_the_database(scim: Scim) -> None:
    """startIndex/count page a sorted list and totalResults counts every match."""
    for name in ["dora", "carl", "bea", "abe", "eve"]:
        scim.post("/Users", user(f"{name}@acme.com"))
    page = scim.get("/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2").json
    assert page is not None
    assert page["totalResults"] == 5
    assert page["startIndex"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["dora@acme.com", "carl@acme.com"]
    sw = scim.get('/Users?filter=userName sw "B" or userName eq "EVE@acme.com"').json
    assert sw is not None
    assert sorted(r["userName"] for r in sw["Resources"]) == ["bea@acme.com", "eve@acme.com"]


def test_a_filter_no_column_answers_is_evaluated_on_the_narrowed_rows(scim: Scim) -> None:
    """emails[type eq "work"] filters still answer, through the library's evaluator."""
    scim.post("/Users", user("kim@acme.com", title="CFO"))
    scim.post("/Users", user("lee@acme.com"))
    found = scim.get('/Users?filter=title eq "cfo" and emails[type eq "work"]').json
    assert found is not None
    assert [r["userName"] for r in found["Resources"]] == ["kim@acme.com"]


def test_a_filter_that_would_scan_too_many_rows_is_too_many(app: Flask, scim: Scim) -> None:
    """Past max_scan, a filter with no indexed part is refused with tooMany."""
    app.extensions["scim"]["scim"].storage.max_scan = 2
    for name in ["a", "b", "c"]:
        scim.post("/Users", user(f"{name}@acme.com"))
    response = scim.get("/Users?filter=title pr")
    assert response.status_code == 400
    assert response.json is not None and response.json["scimType"] == "tooMany"
    indexed = scim.get('/Users?filter=userName eq "a@acme.com"')
    assert indexed.status_code == 200
    narrowed = scim.get('/Users?filter=emails.value eq "B@ACME.com"').json
    assert narrowed is not None
    assert [r["userName"] for r in narrowed["Resources"]] == ["b@acme.com"]


def test_a_user_patch_answers_the_user_and_a_group_patch_answers_204(scim: Scim) -> None:
    """Okta reads the user back from the PATCH answer; a group PATCH answers 204 with the
    new ETag (what Okta and Entra expect), and the group only when attributes are asked."""
    created = scim.post("/Users", user("max@acme.com")).json
    assert created is not None
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    answered = scim.patch(f"/Users/{created['id']}", patch)
    assert answered.status_code == 200
    assert answered.json is not None and answered.json["active"] is False
    made = scim.post("/Groups", group("Staff")).json
    assert made is not None
    add = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": created["id"]}]}],
    }
    response = scim.patch(f"/Groups/{made['id']}", add)
    assert response.status_code == 204 and response.data == b""
    assert response.headers["ETag"] != made["meta"]["version"]
    after = scim.get(f"/Groups/{made['id']}")
    assert after.json is not None and after.headers["ETag"] == response.headers["ETag"]
    assert [m["value"] for m in after.json["members"]] == [created["id"]]
    full = scim.patch(f"/Groups/{made['id']}?attributes=members", add)
    assert full.status_code == 200 and full.json is not None
    assert [m["value"] for m in full.json["members"]] == [created["id"]]
    lean = scim.patch(f"/Groups/{made['id']}?excludedAttributes=members", add)
    assert lean.status_code == 200 and lean.json is not None and "members" not in lean.json


def test_deleting_a_user_removes_it_from_its_groups(scim: Scim) -> None:
    """A deleted user is no member of anything any more."""
    created = scim.post("/Users", user("zed@acme.com")).json
    assert created is not None
    made = scim.post("/Groups", group("Ops", created["id"])).json
    assert made is not None
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    after = scim.get(f"/Groups/{made['id']}").json
    assert after is not None and after.get("members", []) == []
    assert after["meta"]["version"] != made["meta"]["version"]


def test_unknown_urls_and_methods_get_scim_errors(scim: Scim) -> None:
    """404 and 405 under /scim/v2 carry SCIM Error bodies."""
    missing = scim.get("/Nothing/here")
    assert missing.status_code == 404
    assert missing.json is not None and missing.json["schemas"] == [ERROR]
    wrong = scim.request("PUT", "/Users")
    assert wrong.status_code == 405
    assert wrong.json is not None and wrong.json["schemas"] == [ERROR]


def test_a_body_over_the_limit_is_a_413_scim_error(scim: Scim) -> None:
    """Bodies over max_body_bytes are refused before they are read."""
    response = scim.post("/Users", user("big@acme.com", displayName="x" * 300_000))
    assert response.status_code == 413
    assert response.json is not None and response.json["schemas"] == [ERROR]


def test_malformed_json_is_invalid_syntax_and_changes_nothing(scim: Scim) -> None:
    """A broken body is a 400 invalidSyntax or invalidValue, never a 500."""
    response = scim.client.post(
        "/scim/v2/Users",
        data=b'{"userName": ',
        headers={"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"},
    )
    assert response.status_code == 400
    assert response.json is not None and "Traceback" not in str(response.json)
    listed = scim.get("/Users").json
    assert listed is not None and listed["totalResults"] == 0


def test_group_listing_honours_excluded_members(scim: Scim) -> None:
    """Entra lists groups with excludedAttributes=members."""
    created = scim.post("/Users", user("ida@acme.com")).json
    assert created is not None
    scim.post("/Groups", group("Eng", created["id"]))
    listed = scim.get('/Groups?excludedAttributes=members&filter=displayName eq "eng"').json
    assert listed is not None
    (found,) = listed["Resources"]
    assert found["displayName"] == "Eng" and "members" not in found


def test_a_read_by_an_org_without_a_scim_source_creates_one_that_lasts(
    scim: Scim, session_factory: sessionmaker[Session]
) -> None:
    """A read request whose org has no ``scim`` source yet makes one that is still there after."""
    with session_factory.begin() as session:
        session.execute(delete(Source).where(Source.kind == "scim"))
    assert scim.get('/Users?filter=userName eq "bob@acme.com"').json["totalResults"] == 0
    with session_factory() as session:
        (source_id,) = session.scalars(select(Source.id).where(Source.kind == "scim"))
    created = scim.post("/Users", user("bob@acme.com")).json
    assert scim.get('/Users?filter=userName eq "bob@acme.com"').json["totalResults"] == 1
    with session_factory() as session:
        stored = session.scalars(select(DirectoryUser.source_id)).one()
        assert stored == source_id and created["userName"] == "bob@acme.com"


@pytest.mark.parametrize("remove_op", ["Remove", "remove", "REMOVE"])
@pytest.mark.parametrize("add_op", ["Add", "add"])
def test_members_named_by_entras_display_name_are_added_and_removed(
    scim: Scim, add_op: str, remove_op: str
) -> None:
    """Entra's member objects carry ``displayName`` beside ``value``; it is ignored."""
    kept = scim.post("/Users", user("kept@acme.com")).json
    gone = scim.post("/Users", user("new_user@acme.com")).json
    made = scim.post("/Groups", group("Staff")).json
    assert kept is not None and gone is not None and made is not None
    members = [
        {"displayName": "kept", "value": kept["id"]},
        {"displayName": "new_user", "value": gone["id"]},
    ]
    added = scim.patch(
        f"/Groups/{made['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": add_op, "path": "members", "value": members}],
        },
    )
    assert added.status_code == 204, added.json
    both = scim.get(f"/Groups/{made['id']}").json
    assert both is not None
    assert sorted(m["value"] for m in both["members"]) == sorted([kept["id"], gone["id"]])
    removed = scim.patch(
        f"/Groups/{made['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": remove_op, "path": "members", "value": members[1:]}],
        },
    )
    assert removed.status_code == 204, removed.json
    after = scim.get(f"/Groups/{made['id']}").json
    assert after is not None
    assert [m["value"] for m in after["members"]] == [kept["id"]]
