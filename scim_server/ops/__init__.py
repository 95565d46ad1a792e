"""Operational concerns of the web process: health, metrics, tracing, input limits,
hardening, throttling, retry-later answers (docs/architecture.md section 2.4).
"""
