"""rolebridge's imperative shell: settings, database, mirror, platform store, sources.

The store's public functions, each taking a Session (``with session_factory.begin()``):

- ``sync.db``: ``make_engine``, ``make_session_factory``, ``upgrade``, ``check_schema``
- ``sync.store.orgs``: ``create_org``, ``get_org``, ``find_org``, ``create_workspace``
- ``sync.mirror`` (the directory tables' one reader and writer): ``ensure_source``,
  ``upsert_user``/``delete_user``, ``upsert_group``/``delete_group``,
  ``add_group_members``/``remove_group_members``, ``replace_snapshot``, ``load_directory``,
  ``source_directory``; the SCIM service's per-row writes in ``sync.mirror.rows``
- ``sync.store.platform``: ``load_state``, ``apply_plan``
- ``sync.store.mappings``: ``save_mapping``, ``current_mapping``, ``list_versions``
- ``sync.reconcile``: ``reconcile`` (takes the session factory; one per org at a time)
- ``sync.store.plans``: ``create_plan``, ``approve_plan``, ``apply_saved``
- ``sync.store.outbox``: ``deliver``; ``sync.store.invites``: ``accept_invite``
"""
