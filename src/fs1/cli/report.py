"""`fs1 report` (not yet built)."""
