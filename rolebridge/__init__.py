"""The ``rolebridge`` command: the composition root above ``mappings``, ``sync`` and
``scim_server`` (docs/architecture.md section 2), the only package that imports all three."""
