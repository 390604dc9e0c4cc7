"""`fs1 build_sft` (not yet built)."""
