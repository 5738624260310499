"""The folders are the architecture: no import cycles between modules or
between packages (imports inside functions included), nothing in ``crawler``
imports ``pipelines``, the top of ``crawler/`` stays small, and every package
says in its docstring what it holds and what it may import.

Read from the source with ``ast``: nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from crawler.scheduling.runner import PROJECT_ROOT

PACKAGES = ("crawler", "pipelines", "settings")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that ``name`` imports, anywhere in its code."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module itself.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    graph = {name: imports_of(name, path, known) for name, path in modules.items()}
    # Importing a module runs its packages' __init__ first; those edges are
    # not cycles of the code's design, so a package's own modules are not
    # counted as importing it.
    return {
        name: {t for t in targets if not name.startswith(f"{t}.")}
        for name, targets in graph.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """``crawler.storage.store`` -> ``crawler.storage``; the modules at the top
    of ``crawler`` (exceptions, items) are the bottom layer ``crawler``."""
    parts = module.split(".")
    if parts[0] != "crawler":
        return parts[0]
    return (
        ".".join(parts[:2])
        if len(parts) > 2 or (PROJECT_ROOT / "crawler" / parts[-1]).is_dir()
        else "crawler"
    )


def test_no_module_imports_another_that_imports_it_back():
    assert cycles(import_graph()) == []


def test_no_package_imports_another_that_imports_it_back():
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        source = package_of(module)
        packages.setdefault(source, set()).update(
            package_of(t) for t in targets if package_of(t) != source
        )
    assert cycles(packages) == []


def test_nothing_in_crawler_imports_pipelines():
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if module.startswith("crawler")
        for target in targets
        if target.startswith("pipelines")
    )
    assert offenders == []


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from crawler.items import Article\n")
    assert imports_of("m", module, {"crawler.items"}) == {"crawler.items"}


def test_crawler_has_few_entries_each_a_package_that_says_what_it_holds():
    top = sorted(
        p.name
        for p in (PROJECT_ROOT / "crawler").iterdir()
        if p.name not in ("__init__.py", "__pycache__")
    )
    assert len(top) <= 10, top
    for entry in top:
        path = PROJECT_ROOT / "crawler" / entry
        if path.is_dir():
            init = path / "__init__.py"
            assert init.exists(), f"crawler/{entry} is not a package"
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            assert "import" in doc, f"crawler/{entry}/__init__.py does not say what it may import"
        else:
            assert entry in ("exceptions.py", "items.py"), (
                f"crawler/{entry}: modules go in packages"
            )


# Parser declarations are long lists of options, read as a table: not logic.
DECLARATIONS = ("add_parser", "add_parsers", "build_parser", "add_query_parsers")
CLASS_LINES = 250
FUNCTION_LINES = 60


def test_no_class_over_250_lines_and_no_function_over_60():
    too_long = []
    for name, path in project_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            lines = (
                (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(node, "lineno") else 0
            )
            if isinstance(node, ast.ClassDef) and lines > CLASS_LINES:
                too_long.append(f"class {name}.{node.name}: {lines} lines")
            elif (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and lines > FUNCTION_LINES
                and not node.name.startswith(DECLARATIONS)
            ):
                too_long.append(f"function {name}.{node.name}: {lines} lines")
    assert too_long == []
