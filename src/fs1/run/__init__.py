"""The experiment runner: one YAML file → paths → distill → SFT sets → train → generate → score (→ judge) → report."""
