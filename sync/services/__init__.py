"""Use cases: one function each, called alike by the admin API, the admin pages and the
CLI. Each takes the caller's authority, opens the transaction, takes the org lock and
writes the audit entry; callers only translate in and out."""
