"""The module graph has no cycle, function-local imports included (grimp reads every import statement).

The layer contracts themselves are import-linter's (pyproject.toml, run by .ci/run); a cycle inside one
layer is something no layer contract sees, so it is checked here.
"""

from __future__ import annotations

import grimp

PACKAGES = ("adspec", "core", "templates", "render", "campaigns", "dashboard")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_module_graph_has_no_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES)
    cycles = _cycles(graph)
    chains = [
        " -> ".join(graph.find_shortest_chain(importer=cycle[0], imported=cycle[1]) or []) for cycle in cycles
    ]
    assert cycles == [], f"import cycles: {cycles}; e.g. {chains}"


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself: a graph with a -> b -> a is reported."""
    graph = grimp.ImportGraph()
    for importer, imported in (("pkg.a", "pkg.b"), ("pkg.b", "pkg.a"), ("pkg.b", "pkg.c")):
        graph.add_import(importer=importer, imported=imported)
    assert _cycles(graph) == [["pkg.a", "pkg.b"]]
