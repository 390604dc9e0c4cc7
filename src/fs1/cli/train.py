"""`fs1 train` (not yet built)."""
