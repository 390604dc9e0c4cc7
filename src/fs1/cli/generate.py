"""`fs1 generate` (not yet built)."""
