"""GLB files: building them and checking them (pure functions, no I/O)."""
