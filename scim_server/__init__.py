"""rolebridge's HTTP edge: the SCIM 2.0 server, the admin API and the admin pages."""

from __future__ import annotations

from scim_server.app import create_app

__all__ = ["create_app"]
