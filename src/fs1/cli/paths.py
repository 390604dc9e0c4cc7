"""`fs1 paths` (not yet built)."""
