"""The judge stage: an LLM judge over scored predictions (SimpleQA grader), its rules cascade, cache and agreement.

``judge`` holds the judge and its verdicts, ``rules`` the surface rules, ``cache`` the verdict cache, ``stage`` the
stage over a scores file, ``scored`` the answers it reads, ``agreement`` the check of the judge against hand labels.
"""
