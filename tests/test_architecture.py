"""The layering rule of docs/architecture.md holds: every fs1 import points down, and docstrings cite what exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import fs1

SRC = Path(fs1.__file__).parent
ROOT = SRC.parent.parent
# Higher imports lower, never the reverse; packages on one layer never import each other.
LAYERS = {
    "cli": 7,
    "run": 6, "authors": 6,
    "distill": 5, "train": 5, "judge": 5, "report": 5,
    "generate": 4, "scoring": 4,
    "data": 3, "kg": 3, "backends": 3, "manifest": 3, "shards": 3,
    "config": 2, "io": 2, "prompts": 2, "stage": 2,
    "records": 1, "stage_log": 1,
    "errors": 0, "redact": 0, "vocab": 0, "summary_types": 0, "seeding": 0, "retry_after": 0, "cores": 0,
}  # fmt: skip
# Beyond the layers: the KG is an offline input to the teacher prompt, reaching distill only as path records.
FORBIDDEN = {("distill", "kg")}


def _unit(module: str) -> str:
    return module.split(".")[1]


def _fs1_imports(path: Path) -> list[tuple[str, int]]:
    """Every fs1 module imported by ``path``, also inside functions (a lazy import is still a dependency)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fs1."):
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.startswith("fs1.")]
    return found


def test_every_fs1_module_sits_on_a_layer() -> None:
    units = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if p.suffix == ".py" or p.is_dir()}
    units -= {"__init__", "__pycache__", "py"}
    assert units <= set(LAYERS), (
        f"place these in LAYERS and docs/architecture.md: {sorted(units - set(LAYERS))}"
    )


def test_imports_point_down() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts == ("__init__",):
            continue
        mine = parts[0]
        for module, line in _fs1_imports(path):
            other = _unit(module)
            if other == mine:
                continue
            if LAYERS[other] >= LAYERS[mine] or (mine, other) in FORBIDDEN:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {module}")
    assert not wrong, "imports must point down (docs/architecture.md):\n" + "\n".join(wrong)


def test_protocol_citations_point_at_sections_that_exist() -> None:
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## §([0-9A-Z]+)", protocol, re.M))
    sections |= set(re.findall(r"^\| ([A-Z]\.\d+) \|", protocol, re.M))
    cited = []
    for folder in ("src", "benchmarks", "scripts", "configs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".yaml") or "__pycache__" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            assert "wikidata-notes" not in text and "paper-protocol" not in text, (
                f"{path}: cite docs/protocol.md"
            )
            for refs in re.findall(r"docs/protocol\.md ((?:§[0-9A-Z]+(?:\.\d+)?(?:, )?)+)", text):
                cited += [(path, ref) for ref in re.findall(r"§([0-9A-Z]+(?:\.\d+)?)", refs)]
    assert cited
    missing = [f"{path.relative_to(ROOT)}: §{ref}" for path, ref in cited if ref not in sections]
    assert not missing, missing


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path, known: set[str]) -> set[str]:
    """The fs1 modules ``path`` imports when it is imported: top-level statements only, not inside functions or
    ``if TYPE_CHECKING:`` (``from pkg import name`` counts ``pkg.name`` when that is a module)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)) else []:
            if isinstance(sub, ast.ImportFrom) and sub.module and sub.module.startswith("fs1"):
                names = [f"{sub.module}.{alias.name}" for alias in sub.names]
                found |= {n for n in names if n in known} or {sub.module}
            elif isinstance(sub, ast.Import):
                found |= {alias.name for alias in sub.names if alias.name.startswith("fs1")}
    return found


def test_no_module_level_import_cycle() -> None:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {name: _module_level_imports(path, set(modules)) & set(modules) for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("module-level import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def _long_functions(folder: Path, limit: int) -> list[str]:
    long = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > limit:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name} ({length} lines)")
    return long


def test_commands_are_thin_and_the_pipeline_is_a_scheduler() -> None:
    """A command parses, calls a stage or the driver, and prints: no function in cli/ over 50 lines (signature and
    docstring included); the pipeline keeps the wave scheduler and the wiring, the stages live in their packages."""
    assert _long_functions(SRC / "cli", 50) == []
    lines = len((SRC / "run" / "pipeline.py").read_text(encoding="utf-8").splitlines())
    assert lines <= 350, f"run/pipeline.py has {lines} lines"


def test_every_stage_declares_itself_next_to_its_function() -> None:
    """paths, distill, generate, judge and score each declare their Stage in their own package."""
    from fs1.distill.stage import DISTILL
    from fs1.generate.stage import GENERATE
    from fs1.judge.stage import JUDGE
    from fs1.kg.stage import PATHS
    from fs1.scoring.stage import SCORE
    from fs1.stage import Stage

    for stage, package in ((PATHS, "kg"), (DISTILL, "distill"), (GENERATE, "generate"), (JUDGE, "judge"),
                           (SCORE, "scoring")):  # fmt: skip
        assert isinstance(stage, Stage) and stage.run.__module__ == f"fs1.{package}.stage", stage.name


def _backend_literals(node: ast.AST, names: set[str]) -> list[str]:
    """Backend names written as string literals in ``node`` (alone, or in a tuple, list or set)."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return [i.value for i in items if isinstance(i, ast.Constant) and i.value in names]


def test_no_code_outside_backends_tells_backends_apart_by_name() -> None:
    # What a backend can do is a capability of its registry entry (fs1.backends.BACKENDS), so a new backend is one
    # entry, not a hunt for `backend == "vllm"` in the stages.
    from fs1.backends import BACKENDS

    names = set(BACKENDS)
    found = []
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] == "backends":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                literals = [
                    v for side in (node.left, *node.comparators) for v in _backend_literals(side, names)
                ]
            elif isinstance(node, ast.MatchValue):
                literals = _backend_literals(node.value, names)
            elif isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts:
                # a set of backends kept aside to test against (`CPU_BACKENDS = {"llamacpp", "openai"}`)
                literals = _backend_literals(node, names)
                literals = literals if len(literals) == len(node.elts) else []
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {value!r}" for value in literals]
    assert not found, "compare capabilities (fs1.backends.BackendInfo), not backend names:\n" + "\n".join(
        found
    )
