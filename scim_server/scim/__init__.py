"""The SCIM 2.0 endpoint at /scim/v2: protocol translation onto the directory mirror
(docs/architecture.md section 3.1).
"""
