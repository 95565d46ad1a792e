"""Use cases: one function each, called alike by the admin API, the admin pages and the
CLI. Each takes the caller (``mappings.authority.Caller``), opens the transaction, takes
the org lock, asks ``mappings.authority`` and writes the audit entry; callers only
translate in and out.

- ``mappings``: save a mapping version;
- ``plans``: create, approve and apply a plan;
- ``sources``: run a pulled source now;
- ``reconcile``: reconcile an org now;
- ``workspaces``: create a workspace.
"""
