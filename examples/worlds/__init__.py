"""An event-driven system: Counters follows Worlds and counts what happened."""
