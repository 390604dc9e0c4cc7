"""`fs1 run` (not yet built)."""
