"""Plain-Python floor rules: no Flask, no database session."""
