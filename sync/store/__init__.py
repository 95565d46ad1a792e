"""The platform store: members and their roles, orgs and workspaces, invites, the outbox,
the audit log, the runs, the events feed, mapping versions and saved plans
(docs/architecture.md section 2.3).
"""
