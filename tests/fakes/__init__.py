"""Loopback fakes of the identity providers' APIs (Flask apps served by werkzeug in a thread)."""
