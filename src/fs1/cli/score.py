"""`fs1 score` (not yet built)."""
