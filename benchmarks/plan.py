"""Benchmark: resolve + plan (+ fingerprint) for a synthetic org of a given size.

    python benchmarks/plan.py                      # 10k and 100k users
    python benchmarks/plan.py --users 20000 --groups 5000 --workspaces 1000 --memberships 10

For each size it prints one line:
``users=N groups=G workspaces=W memberships=M seconds=S peak_mb=P``
where ``seconds`` is the best wall-clock time of ``--repeat`` runs of ``make_plan``
(resolve, plan and fingerprint) and ``peak_mb`` the peak memory allocated during one
run (tracemalloc, in a separate run so that tracing does not slow the timed ones).
After them, in brackets: the best CPU time of this process (less sensitive to other
work on a shared machine), the number of operations, and the 1-minute load average.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import tracemalloc
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mappings import (
    Directory,
    DirectoryGroup,
    DirectoryUser,
    GroupMember,
    Member,
    Organisation,
    PlatformState,
    RoleMapping,
    RoleModel,
    Workspace,
    load_role_model,
    make_plan,
    parse_mapping,
)
from sync.gcpause import cyclic_gc_paused  # this process's entry point, as a CLI command's
from sync.regex_engine import re2_engine  # the engine the service runs tenant patterns on

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SCOPE_PARTS = 100  # "Staff" holds 100 nested groups that hold the users


def build(
    users: int, groups: int, workspaces: int, memberships: int, seed: int = 7
) -> tuple[Directory, PlatformState, RoleMapping, RoleModel]:
    """A synthetic directory, state and mapping (generic role model)."""
    rng = random.Random(seed)
    ws_names = [f"w{i}" for i in range(workspaces)]
    names = ["Owners"] + [f"admins-{i}" for i in range(20)]
    names += [f"ws-{w}-{r}" for w in ws_names for r in ("viewer", "editor")]
    names += [f"team-{i}" for i in range(max(groups - len(names) - SCOPE_PARTS - 1, 0))]
    names = names[: max(groups - SCOPE_PARTS - 1, 1)]
    user_ids = [f"u{i}" for i in range(users)]
    members_of: list[list[str]] = [[] for _ in names]
    members_of[0] = user_ids[:3]
    for uid in user_ids:
        for g in rng.sample(range(1, len(names)), min(memberships, len(names) - 1)):
            members_of[g].append(uid)
    groups_out = [
        DirectoryGroup(f"g{i}", name, members=tuple(GroupMember(u, "User") for u in members_of[i]))
        for i, name in enumerate(names)
    ]
    parts = [
        DirectoryGroup(
            f"s{p}",
            f"Staff-{p}",
            members=tuple(GroupMember(u, "User") for u in user_ids[p::SCOPE_PARTS]),
        )
        for p in range(SCOPE_PARTS)
    ]
    staff = DirectoryGroup(
        "staff", "Staff", members=tuple(GroupMember(p.id, "Group") for p in parts)
    )
    directory = Directory(
        users=tuple(
            DirectoryUser(
                uid,
                f"user{i}@corp.example",
                (f"user{i}@corp.example",),
                active=rng.random() > 0.005,
            )
            for i, uid in enumerate(user_ids)
        ),
        groups=(*groups_out, *parts, staff),
    )
    mapping = parse_mapping(
        {
            "role_model": "generic",
            "scope": {"groups": ["Staff"]},
            "rules": [
                {"group": "Owners", "org_role": "owner"},
                {"match": "^admins-", "org_role": "admin"},
                {
                    "match": r"^ws-(?P<ws>w\d+)-(?P<role>viewer|editor)$",
                    "workspace": "{ws}",
                    "workspace_role": "{role}",
                },
            ],
            "policy": {"unmapped": "default_role", "max_removals": "5%"},
        },
        engine=re2_engine,
    )
    model = load_role_model("generic")
    state = _state(directory, model, mapping, ws_names, rng)
    return directory, state, mapping, model


def _state(
    directory: Directory,
    model: RoleModel,
    mapping: RoleMapping,
    ws_names: list[str],
    rng: random.Random,
) -> PlatformState:
    """Roughly in step with the directory: most members exist, some differ, a few extra."""
    from mappings import resolve

    desired = resolve(directory, mapping, model)
    members = []
    for key, d in desired.users.items():
        r = rng.random()
        if r < 0.05:
            continue  # to invite
        role = d.org_role if r > 0.08 else model.default_org_role
        ws = dict(d.workspaces)
        if ws and rng.random() < 0.05:
            ws.pop(next(iter(ws)))  # a workspace grant to add
        members.append(Member(key, role, "joined", "idp", d.user.id, NOW, ws))
    members += [
        Member(f"leaver{i}@corp.example", "member", "joined", "idp", None, NOW, {})
        for i in range(len(desired.users) // 100)
    ]
    return PlatformState(
        Organisation("Corp", "enterprise", None),
        tuple(Workspace(w, 0) for w in ws_names),
        tuple(members),
    )


def measure(users: int, groups: int, workspaces: int, memberships: int, repeat: int) -> str:
    """Time make_plan on one synthetic org and return the result line."""
    directory, state, mapping, model = build(users, groups, workspaces, memberships)
    best = best_cpu = float("inf")
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        plan = make_plan(directory, state, mapping, model, now=NOW)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    gc.collect()
    tracemalloc.start()
    make_plan(directory, state, mapping, model, now=NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ops = len(plan.operations)
    return (
        f"users={users} groups={groups} workspaces={workspaces} memberships={memberships} "
        f"seconds={best:.2f} peak_mb={peak / 2**20:.0f}  "
        f"(cpu_seconds={best_cpu:.2f} operations={ops} load={os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    """Run the sizes given on the command line, or 10k and 100k users."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--workspaces", type=int, default=1_000)
    parser.add_argument("--memberships", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--collector-on",
        action="store_true",
        help="Leave the cyclic garbage collector on (as in a web request's preview).",
    )
    args = parser.parse_args()
    with nullcontext() if args.collector_on else cyclic_gc_paused():
        for n in args.users:
            line = measure(n, args.groups, args.workspaces, args.memberships, args.repeat)
            print(line, flush=True)


if __name__ == "__main__":
    main()
