"""Cargo shipping: booking, routing and handling, with custom value objects."""
