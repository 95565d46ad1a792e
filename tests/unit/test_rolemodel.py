"""Role models: presets load by name, files are validated, mistakes are named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mappings import PRESETS, RoleModelError, load_role_model, role_model_to_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_every_preset_loads_by_name_and_round_trips_through_its_file_form() -> None:
    """Each preset is named by its key, has an example, and its file form loads back to an
    equal model."""
    examples = {p.name for p in EXAMPLES.iterdir() if (p / "mapping.yaml").is_file()}
    assert set(PRESETS) == examples
    for name, model in PRESETS.items():
        assert model.name == name
        assert load_role_model(name) is model
        assert load_role_model(role_model_to_dict(model)) == model


def _custom(**changes: Any) -> dict[str, Any]:
    return {**role_model_to_dict(PRESETS["generic"]), "name": "custom", **changes}


@pytest.mark.parametrize(
    ("doc", "where", "words"),
    [
        (_custom(default_org_role="boss"), "default_org_role", "unknown org role 'boss'"),
        (_custom(manages={"owner": ["ghost"]}), "manages.owner", "unknown role 'ghost'"),
        (
            _custom(manages={"admin": ["owner"], "owner": ["admin"]}),
            "manages",
            "cycle: admin -> owner -> admin",
        ),
        (_custom(org_role_implies={"admin": "chief"}), "org_role_implies.admin", "unknown"),
        (_custom(protected_org_roles=["root"]), "protected_org_roles", "unknown org role"),
        (_custom(org_roles=["a", "a"]), "org_roles", "twice"),
        (_custom(on_deactivate="delete"), "on_deactivate", "'suspend' or 'remove'"),
        (_custom(invites={"resend_after_days": -1}), "invites.resend_after_days", "days"),
        (_custom(colour="blue"), "colour", "unknown field"),
    ],
)
def test_an_inconsistent_role_model_is_refused_naming_the_field(
    doc: dict[str, Any], where: str, words: str
) -> None:
    """Unknown role names, cycles in manages and bad fields raise RoleModelError."""
    with pytest.raises(RoleModelError) as info:
        load_role_model(doc)
    assert info.value.where == where
    assert words in info.value.message


def test_an_unknown_preset_name_lists_the_presets() -> None:
    """A misspelt preset says which names exist."""
    with pytest.raises(RoleModelError, match="presets: aihub, annotation, generic"):
        load_role_model("aihbu")


def test_self_management_is_not_a_cycle() -> None:
    """Owners managing owners is normal; only distinct roles managing each other is a cycle."""
    assert load_role_model(_custom()).may_manage("owner", "owner")
