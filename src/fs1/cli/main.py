"""Entry point of the ``fs1`` program: imports every command module so its commands register on ``app``.

Command modules import only Typer at top level; heavy libraries load inside the commands, so ``fs1 --help`` is fast.
"""

from __future__ import annotations

from fs1.cli import (  # noqa: F401  (imported for their registration side effect)
    build_sft,
    cluster,
    compare,
    data,
    distill,
    generate,
    import_authors,
    judge,
    paths,
    report,
    run,
    score,
    train,
)
from fs1.cli.app import app, reflow_help

reflow_help(app)

__all__ = ["app"]

if __name__ == "__main__":
    app()
