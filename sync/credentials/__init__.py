"""Credentials, hashed or encrypted at rest: SCIM tokens, admin API keys, admin page
sessions, source secrets (docs/architecture.md section 2.3).
"""
