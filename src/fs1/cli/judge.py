"""`fs1 judge` (not yet built)."""
