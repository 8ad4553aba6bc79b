"""The import graph of the code (pcc/, training/, serving/), read from the sources: no cycle, and each floor
imports only what it may.

Every import counts, at the top of a module or inside a function, except those made for type checkers only
(under `if TYPE_CHECKING:`), which never run.
"""
import ast
import textwrap
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("pcc", "training", "serving")
# What training takes from serving: the runtimes (classifier and the map's embedder), to check an export as serving
# runs it; the BentoML model store that `pcc export` saves to; Label Studio exports read as human labels. The
# model's contract is in pcc/.
TRAINING_USES_OF_SERVING = {("serving.classifier", "SentenceClassifier"),
                            ("serving.corpus_map.embedder", "SentenceEmbedder"), ("serving.model_store", "save_bundle"),
                            ("serving.review", "read_label_studio")}


def project_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `PACKAGES` under `root`."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(path: Path, module: str) -> list[tuple[str, str | None]]:
    """(module, name or None) for every import the file makes at run time; relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.extend((base, alias.name) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _type_checking_only(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a `from package import module` imports that module; importing a
    module runs its packages' `__init__` first)."""
    modules = project_modules(root)
    graph = {}
    for module, path in modules.items():
        targets = set()
        for base, name in imports_of(path, module):
            target = f"{base}.{name}" if name and f"{base}.{name}" in modules else base
            parts = target.split(".")
            targets |= {".".join(parts[:n]) for n in range(1, len(parts) + 1)} & set(modules)
        graph[module] = targets - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or None."""
    state: dict[str, str] = {}  # module -> "open" while on the current path, "done" once all it reaches is done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_no_module_imports_itself_back():
    cycle = find_cycle(import_graph(REPO))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_check_finds_a_cycle_through_a_function_but_not_through_type_hints(tmp_path):
    def write(name: str, source: str) -> None:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")

    for package in PACKAGES:
        write(f"{package}/__init__.py", "")
    write("pcc/a.py", """
        from typing import TYPE_CHECKING

        from pcc import b

        if TYPE_CHECKING:
            from serving.c import Thing
        """)
    write("pcc/b.py", "import pcc.sub.d\n")
    write("pcc/sub/__init__.py", "")
    write("pcc/sub/d.py", "from .. import e\n")
    write("pcc/e.py", "def later():\n    from pcc.a import b\n")
    write("serving/c.py", "from pcc.a import b\n")
    graph = import_graph(tmp_path)
    assert graph["pcc.a"] == {"pcc", "pcc.b"} and graph["pcc.sub.d"] == {"pcc", "pcc.e"}
    assert find_cycle(graph) == ["pcc.a", "pcc.b", "pcc.sub.d", "pcc.e", "pcc.a"]
    write("pcc/e.py", "")
    assert find_cycle(import_graph(tmp_path)) is None


def test_serving_and_the_shared_floor_never_import_torch_or_training():
    heavy = ("torch", "transformers", "training")
    for module, path in project_modules(REPO).items():
        if module.startswith(("pcc", "serving")):
            found = [base for base, _ in imports_of(path, module) if base.split(".")[0] in heavy]
            assert not found, f"{path.relative_to(REPO)} imports {', '.join(found)}"


def test_training_takes_from_serving_only_the_runtime_the_model_store_and_label_studio_files():
    taken = {(base, name) for module, path in project_modules(REPO).items() if module.startswith("training")
             for base, name in imports_of(path, module) if base.split(".")[0] == "serving"}
    unexpected = sorted(taken - TRAINING_USES_OF_SERVING)
    assert not unexpected, f"training imports {unexpected} from serving"
