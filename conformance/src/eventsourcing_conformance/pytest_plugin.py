"""pytest plugin for the conformance suite (built in its own issue)."""
