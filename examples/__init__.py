"""Worked examples of event-sourced applications built with this library.

Each subpackage is a small, complete application with its domain model
(``domain``) and its application (``application``); the tests in the
repository's ``tests/`` folder run every one of them on every backend.
"""
