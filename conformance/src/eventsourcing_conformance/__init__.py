"""Conformance suite for eventsourcing recorders (built in its own issue)."""
