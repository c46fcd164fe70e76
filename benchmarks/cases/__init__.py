"""Benchmark cases; each module registers its cases with ``harness.case``."""
