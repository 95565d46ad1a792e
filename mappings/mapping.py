"""The org's mapping: rules from directory groups to roles, and policies.

The document is described in docs/architecture.md section 5.

``parse_mapping`` checks everything when the document is loaded; a problem raises a
``MappingError`` whose ``where`` names the rule index and field (``rules[2].org_role``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mappings.errors import MappingError, RoleModelError
from mappings.presets import load_role_model
from mappings.regex import MAX_PATTERNS, Pattern, RegexEngine, check_length, compile_pattern
from mappings.rolemodel import RoleModel
from mappings.rules import several_roles_refusal
from mappings.template import check_template, is_template

__all__ = [
    "PERCENT_FLOOR",
    "Policy",
    "RoleMapping",
    "Rule",
    "Scope",
    "default_acting_role",
    "parse_mapping",
    "pattern_count",
]

UNMAPPED = ("remove", "default_role", "keep")
APPLY = ("auto", "review")
_RULE_FIELDS = frozenset(
    {
        "group",
        "role",
        "match",
        "org_role",
        "workspace",
        "workspace_role",
        "workspace_roles",
        "create_workspace",
        "credits",
        "description",
    }
)
_POLICY_FIELDS = frozenset(
    {
        "unmapped",
        "manage_manual_members",
        "max_removals",
        "removal_window",
        "max_group_drop",
        "acting_role",
        "apply",
        "allow_protected",
        "default_role",
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: a selector (``group``, app ``role`` or regex ``match``) and what it grants.

    ``group`` keeps its prefix (``id:``/``externalId:``); templates like ``{workspace}``
    in ``org_role``, ``workspace`` and ``workspace_roles`` are filled from named captures
    of ``pattern``, the compiled ``match``.
    """

    index: int
    group: str | None = None
    role: str | None = None
    match: str | None = None
    org_role: str | None = None
    workspace: str | None = None
    workspace_roles: tuple[str, ...] = ()
    create_workspace: bool = False
    credits: int = 0
    description: str | None = None
    pattern: Pattern | None = field(default=None, compare=False, repr=False)

    @property
    def selector(self) -> str:
        """The rule's selector as written, e.g. ``group SOM Owners``."""
        if self.group is not None:
            return f"group {self.group}"
        if self.role is not None:
            return f"role {self.role}"
        return f"match {self.match}"

    def to_dict(self) -> dict[str, Any]:
        """The document form of this rule."""
        out: dict[str, Any] = {}
        for name in ("group", "role", "match", "org_role", "workspace"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.workspace_roles:
            out["workspace_role"] = (
                self.workspace_roles[0]
                if len(self.workspace_roles) == 1
                else list(self.workspace_roles)
            )
        if self.create_workspace:
            out["create_workspace"] = True
            out["credits"] = self.credits
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class Scope:
    """Only members of these groups are provisioned; empty = everyone in the directory."""

    groups: tuple[str, ...] = ()


PERCENT_FLOOR = 1
"""The fewest losses a positive percentage ``max_removals`` allows, whatever the org's size."""


@dataclass(frozen=True, slots=True)
class Policy:
    """What to do with unmapped and manual members, and the safety rails.

    ``max_removals`` budgets losses (removals, suspensions, demotions, workspace roles
    lowered or taken away, renames of joined members) over ``removal_window``;
    ``max_group_drop`` is the share of a mapped group's members that may leave it in one
    pull before the snapshot is held as suspicious."""

    unmapped: str = "remove"  # remove | default_role | keep
    manage_manual_members: bool = False
    max_removals: int | str | None = "10%"  # count, "N%" of current members, or None
    acting_role: str = ""
    apply: str = "auto"  # auto | review
    allow_protected: bool = False
    default_role: str = ""
    removal_window: str | None = "24h"  # "N" + s/m/h/d; None: each plan on its own
    max_group_drop: str | None = "20%"  # "N%"; None: no per-group check

    def removal_limit(self, members: int) -> int | None:
        """The largest number of losses that may go through without approval."""
        if self.max_removals is None:
            return None
        if isinstance(self.max_removals, int):
            return self.max_removals
        percent = float(self.max_removals.rstrip("%"))
        share = int(members * percent // 100)
        # a share of a small org rounds to nothing: a positive percentage always lets
        # PERCENT_FLOOR losses through, so a small org's first removal is not held
        return max(share, PERCENT_FLOOR) if percent > 0 else share

    def window(self) -> timedelta | None:
        """How far back losses already applied count against ``max_removals``."""
        if self.removal_window is None:
            return None
        m = _DURATION.match(self.removal_window)
        assert m is not None  # checked when parsed
        span = timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
        return span or None

    def group_drop_percent(self) -> float | None:
        """The share (percent) of a mapped group's members that may leave in one pull."""
        return None if self.max_group_drop is None else float(self.max_group_drop.rstrip("%"))

    def to_dict(self) -> dict[str, Any]:
        """The document form."""
        return {
            "unmapped": self.unmapped,
            "manage_manual_members": self.manage_manual_members,
            "max_removals": self.max_removals,
            "acting_role": self.acting_role,
            "apply": self.apply,
            "allow_protected": self.allow_protected,
            "default_role": self.default_role,
            "removal_window": self.removal_window,
            "max_group_drop": self.max_group_drop,
        }


@dataclass(frozen=True, slots=True)
class RoleMapping:
    """A parsed, checked mapping. ``role_model`` is the role model's name."""

    role_model: str
    rules: tuple[Rule, ...]
    scope: Scope
    policy: Policy
    role_model_spec: Mapping[str, Any] | None = None  # an inline role model, if given

    def to_dict(self) -> dict[str, Any]:
        """The document form (a valid input to ``parse_mapping``)."""
        out: dict[str, Any] = {
            "role_model": dict(self.role_model_spec) if self.role_model_spec else self.role_model
        }
        if self.scope.groups:
            out["scope"] = {"groups": list(self.scope.groups)}
        out["rules"] = [r.to_dict() for r in self.rules]
        out["policy"] = self.policy.to_dict()
        return out


def pattern_count(mapping: RoleMapping) -> int:
    """How many compiled patterns ``mapping`` holds: one per ``match`` rule, at most
    ``MAX_PATTERNS`` (what a cache of parsed mappings weighs them by)."""
    return sum(1 for rule in mapping.rules if rule.pattern is not None)


def default_acting_role(model: RoleModel) -> str:
    """The top org role, or the top workspace role when org roles manage nothing."""
    if model.top_org_role in model.manages or not model.workspace_roles:
        return model.top_org_role
    return model.workspace_roles[-1]


def parse_mapping(
    doc: Mapping[str, Any],
    role_model: RoleModel | None = None,
    *,
    engine: RegexEngine = compile_pattern,
) -> RoleMapping:
    """Parse and check a mapping document; ``MappingError`` names the rule index and field.

    ``engine`` compiles the ``match`` patterns: the standard library's by default, RE2
    where the shell parses a tenant's document (``mappings.regex``)."""
    if not isinstance(doc, Mapping):
        raise MappingError("a mapping must be an object", "$")
    unknown = set(doc) - {"role_model", "scope", "rules", "policy"}
    if unknown:
        raise MappingError(f"unknown field '{sorted(unknown)[0]}'", sorted(unknown)[0])
    spec = doc.get("role_model")
    if role_model is None:
        if spec is None:
            raise MappingError("is required (a preset name or a role model)", "role_model")
        try:
            role_model = load_role_model(spec)
        except RoleModelError as e:
            where = f"role_model.{e.where}" if e.where else "role_model"
            raise MappingError(e.message, where) from None
    policy = _policy(doc.get("policy"), role_model)
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        raise MappingError("must be a list of rules", "rules")
    patterns = [i for i, r in enumerate(raw_rules) if isinstance(r, Mapping) and "match" in r]
    if len(patterns) > MAX_PATTERNS:  # refused before any is compiled
        raise MappingError(
            f"more than {MAX_PATTERNS} 'match' rules in one mapping",
            f"rules[{patterns[MAX_PATTERNS]}].match",
        )
    rules = tuple(_rule(r, i, role_model, policy, engine) for i, r in enumerate(raw_rules))
    return RoleMapping(
        role_model=role_model.name,
        rules=rules,
        scope=_scope(doc.get("scope")),
        policy=policy,
        role_model_spec=dict(spec) if isinstance(spec, Mapping) else None,
    )


def _scope(raw: Any) -> Scope:
    if raw is None:
        return Scope()
    if not isinstance(raw, Mapping) or set(raw) - {"groups"}:
        raise MappingError("must be an object with 'groups'", "scope")
    groups = raw.get("groups", [])
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
        raise MappingError("must be a list of group names", "scope.groups")
    return Scope(groups=tuple(groups))


def _policy(raw: Any, model: RoleModel) -> Policy:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise MappingError("must be an object", "policy")
    unknown = set(raw) - _POLICY_FIELDS
    if unknown:
        raise MappingError(f"unknown field '{sorted(unknown)[0]}'", "policy")
    unmapped = raw.get("unmapped", "remove")
    if unmapped not in UNMAPPED:
        raise MappingError(f"must be one of {', '.join(UNMAPPED)}", "policy.unmapped")
    apply = raw.get("apply", "auto")
    if apply not in APPLY:
        raise MappingError(f"must be one of {', '.join(APPLY)}", "policy.apply")
    for flag in ("manage_manual_members", "allow_protected"):
        if not isinstance(raw.get(flag, False), bool):
            raise MappingError("must be true or false", f"policy.{flag}")
    acting = raw.get("acting_role", default_acting_role(model))
    if acting not in model.org_roles and acting not in model.workspace_roles:
        raise MappingError(f"unknown role '{acting}'", "policy.acting_role")
    default_role = raw.get("default_role", model.default_org_role)
    if default_role not in model.org_roles:
        raise MappingError(f"unknown org role '{default_role}'", "policy.default_role")
    if unmapped == "default_role" and not model.may_manage(acting, default_role):
        raise MappingError(
            f"acting role '{acting}' may not assign '{default_role}'", "policy.default_role"
        )
    return Policy(
        unmapped=unmapped,
        manage_manual_members=raw.get("manage_manual_members", False),
        max_removals=_max_removals(raw.get("max_removals", "10%")),
        acting_role=acting,
        apply=apply,
        allow_protected=raw.get("allow_protected", False),
        default_role=default_role,
        removal_window=_removal_window(raw.get("removal_window", "24h")),
        max_group_drop=_max_group_drop(raw.get("max_group_drop", "20%")),
    )


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_DURATION = re.compile(r"^\s*(\d{1,7})\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_WINDOW = timedelta(days=366)


def _removal_window(value: Any) -> str | None:
    if value is None:
        return None
    m = _DURATION.match(value) if isinstance(value, str) else None
    if m is None or int(m.group(1)) * _UNIT_SECONDS[m.group(2)] > _MAX_WINDOW.total_seconds():
        raise MappingError(
            'must be a duration like "24h", "30m" or "7d" (at most 366d), or null',
            "policy.removal_window",
        )
    return f"{int(m.group(1))}{m.group(2)}"


def _max_group_drop(value: Any) -> str | None:
    if value is None:
        return None
    m = _PERCENT.match(value) if isinstance(value, str) else None
    if m is None or float(m.group(1)) > 100:
        raise MappingError('must be a percentage like "20%", or null', "policy.max_group_drop")
    return f"{m.group(1)}%"


MAX_REMOVALS_MAX = 1_000_000
"""The largest count ``max_removals`` may name (its digits are counted before converting)."""
_COUNT = re.compile(r"\s*[0-9]{1,7}\s*")


def _max_removals(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REMOVALS_MAX:
        return value
    if isinstance(value, str) and len(value) <= 40:
        m = _PERCENT.match(value)
        if m and float(m.group(1)) <= 100:
            return f"{m.group(1)}%"
        if _COUNT.fullmatch(value) and int(value) <= MAX_REMOVALS_MAX:
            return int(value)
    raise MappingError(
        f'must be a count up to {MAX_REMOVALS_MAX} (e.g. 25) or a percentage (e.g. "10%")',
        "policy.max_removals",
    )


def _rule(raw: Any, i: int, model: RoleModel, policy: Policy, engine: RegexEngine) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(raw, Mapping):
        raise MappingError("a rule must be an object", where)
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise MappingError(f"unknown field '{sorted(unknown)[0]}'", where)
    selectors = [k for k in ("group", "role", "match") if k in raw]
    if len(selectors) != 1:
        raise MappingError("needs exactly one of 'group', 'role' or 'match'", where)
    kind = selectors[0]
    value = raw[kind]
    if not isinstance(value, str) or not value.strip():
        raise MappingError("must be a non-empty string", f"{where}.{kind}")
    pattern = _pattern(value, f"{where}.match", engine) if kind == "match" else None
    captures = pattern.captures if pattern is not None else frozenset()
    org_role = _text(raw, "org_role", where)
    workspace = _text(raw, "workspace", where)
    ws_roles = _ws_roles(raw, where)
    if org_role is None and workspace is None:
        raise MappingError("grants nothing: give 'org_role' and/or 'workspace'", where)
    if workspace is not None and not ws_roles:
        if not model.workspace_roles:
            raise MappingError(f"role model '{model.name}' has no workspaces", f"{where}.workspace")
        ws_roles = (model.workspace_roles[0],)
    if ws_roles and workspace is None:
        raise MappingError("a workspace role needs a 'workspace'", f"{where}.workspace_role")
    for name, text in (("org_role", org_role), ("workspace", workspace)):
        if text is not None:
            check_template(text, captures, f"{where}.{name}")
    for text in ws_roles:
        check_template(text, captures, f"{where}.workspace_role")
    if org_role is not None and not is_template(org_role):
        _check_role(org_role, model.org_roles, "org", model, policy, f"{where}.org_role")
    for role in ws_roles:
        if not is_template(role):
            _check_role(
                role, model.workspace_roles, "workspace", model, policy, f"{where}.workspace_role"
            )
    several = several_roles_refusal(model, ws_roles)
    if several is not None:
        raise MappingError(several, f"{where}.workspace_role")
    create, credits = _create(raw, where, workspace)
    return Rule(
        index=i,
        group=value if kind == "group" else None,
        role=value if kind == "role" else None,
        match=value if kind == "match" else None,
        org_role=org_role,
        workspace=workspace,
        workspace_roles=ws_roles,
        create_workspace=create,
        credits=credits,
        description=raw.get("description") if isinstance(raw.get("description"), str) else None,
        pattern=pattern,
    )


def _pattern(text: str, where: str, engine: RegexEngine) -> Pattern:
    check_length(text, where)  # whatever the engine, before it compiles anything
    return engine(text, where)


def _text(raw: Mapping[str, Any], name: str, where: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MappingError("must be a non-empty string", f"{where}.{name}")
    return value


def _ws_roles(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if "workspace_role" in raw and "workspace_roles" in raw:
        raise MappingError("give 'workspace_role' or 'workspace_roles', not both", where)
    value = raw.get("workspace_role", raw.get("workspace_roles"))
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise MappingError("must be a role name or a list of them", f"{where}.workspace_role")
    return tuple(dict.fromkeys(value))


def _check_role(
    role: str, known: tuple[str, ...], kind: str, model: RoleModel, policy: Policy, where: str
) -> None:
    if role not in known:
        raise MappingError(f"unknown {kind} role '{role}' (known: {', '.join(known)})", where)
    if not model.may_manage(policy.acting_role, role):
        raise MappingError(f"acting role '{policy.acting_role}' may not assign '{role}'", where)


def _create(raw: Mapping[str, Any], where: str, workspace: str | None) -> tuple[bool, int]:
    create = raw.get("create_workspace", False)
    if not isinstance(create, bool):
        raise MappingError("must be true or false", f"{where}.create_workspace")
    credits = raw.get("credits", 0)
    if not isinstance(credits, int) or isinstance(credits, bool) or credits < 0:
        raise MappingError("must be a non-negative integer", f"{where}.credits")
    if "credits" in raw and not create:
        raise MappingError(
            "only a rule with 'create_workspace: true' sets credits", f"{where}.credits"
        )
    if create and workspace is None:
        raise MappingError("needs a 'workspace'", f"{where}.create_workspace")
    return create, credits
