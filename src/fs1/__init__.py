"""fs1: KG-grounded reasoning traces, fine-tuning and test-time-scaled factual QA evaluation (arXiv 2505.11140)."""

__version__ = "0.1.0"
