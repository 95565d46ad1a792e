"""rolebridge's imperative shell: settings, database, mirror, platform store, sources, CLI."""
