"""`fs1 distill` (not yet built)."""
