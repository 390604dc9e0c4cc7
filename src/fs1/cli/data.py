"""`fs1 data` (not yet built)."""
