"""A wiki whose pages can be renamed: page names are index aggregates."""
