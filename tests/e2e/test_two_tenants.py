"""Random SCIM operations with two orgs' tokens never reach across tenants."""

from __future__ import annotations

import itertools

from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.conftest import Scim, group, make_org, user

TENANTS = st.sampled_from(["a", "b"])
NAMES = st.sampled_from(["ann", "bob", "cy", "di"])
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_orgs = itertools.count()


def test_random_operations_with_two_tokens_have_no_cross_tenant_effect(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Each org sees exactly what it created; the other org's ids answer 404."""

    class TwoTenants(RuleBasedStateMachine):
        """Two orgs, a model of what each one should see, and probes across them."""

        users = Bundle("users")

        def __init__(self) -> None:
            super().__init__()
            client = app.test_client()
            run = next(_orgs)
            self.scim = {t: Scim(client, make_org(session_factory, f"org-{t}-{run}")) for t in "ab"}
            self.model: dict[str, dict[str, str]] = {"a": {}, "b": {}}  # id -> userName
            self.groups: dict[str, dict[str, set[str]]] = {"a": {}, "b": {}}

        @rule(target=users, tenant=TENANTS, name=NAMES)
        def create_user(self, tenant: str, name: str) -> tuple[str, str]:
            """POST a user; a taken name is a 409 in that org only."""
            response = self.scim[tenant].post("/Users", user(f"{name}@x.com"))
            if f"{name}@x.com" in self.model[tenant].values():
                assert response.status_code == 409
                return tenant, ""
            assert response.status_code == 201
            created = response.get_json()
            self.model[tenant][created["id"]] = f"{name}@x.com"
            return tenant, created["id"]

        @rule(owned=consumes(users))
        def delete_user_from_the_other_org_then_its_own(self, owned: tuple[str, str]) -> None:
            """The other org's DELETE is a 404; the owner's works."""
            tenant, user_id = owned
            if not user_id:
                return
            other = "b" if tenant == "a" else "a"
            assert self.scim[other].delete(f"/Users/{user_id}").status_code == 404
            assert self.scim[tenant].delete(f"/Users/{user_id}").status_code == 204
            del self.model[tenant][user_id]
            for members in self.groups[tenant].values():
                members.discard(user_id)

        @rule(owned=users, name=NAMES)
        def rename_across_tenants(self, owned: tuple[str, str], name: str) -> None:
            """PUT and PATCH with the other org's token answer 404 and change nothing."""
            tenant, user_id = owned
            if not user_id or user_id not in self.model[tenant]:
                return
            other = "b" if tenant == "a" else "a"
            body = user(f"{name}-evil@x.com")
            assert self.scim[other].put(f"/Users/{user_id}", body).status_code == 404
            patch = {
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            }
            assert self.scim[other].patch(f"/Users/{user_id}", patch).status_code == 404

        @rule(tenant=TENANTS, owned=users, name=NAMES)
        def group_with_a_member(self, tenant: str, owned: tuple[str, str], name: str) -> None:
            """A group may only hold members of its own org."""
            owner, user_id = owned
            if not user_id or user_id not in self.model[owner]:
                return
            response = self.scim[tenant].post(
                "/Groups", group(f"{name}-{len(self.groups[tenant])}", user_id)
            )
            if owner != tenant:
                assert response.status_code == 400
                return
            assert response.status_code == 201
            self.groups[tenant][response.get_json()["id"]] = {user_id}

        @rule(tenant=TENANTS, name=NAMES)
        def filter_finds_only_own_users(self, tenant: str, name: str) -> None:
            """A userName filter only ever finds the org's own user."""
            found = self.scim[tenant].get(f'/Users?filter=userName eq "{name}@x.com"').get_json()
            ids = {r["id"] for r in found["Resources"]}
            expected = {i for i, n in self.model[tenant].items() if n == f"{name}@x.com"}
            assert ids == expected

        @invariant()
        def each_org_lists_exactly_its_model(self) -> None:
            """Listing users and groups shows the model, no more, no less."""
            for tenant in "ab":
                listed = self.scim[tenant].get("/Users?count=1000").get_json()
                assert {r["id"]: r["userName"] for r in listed["Resources"]} == self.model[tenant]
                groups = self.scim[tenant].get("/Groups?count=1000").get_json()
                seen = {
                    g["id"]: {m["value"] for m in g.get("members", [])} for g in groups["Resources"]
                }
                assert seen == self.groups[tenant]

    run_state_machine_as_test(
        TwoTenants,
        settings=settings(
            max_examples=8,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
