"""The import graph of src/ (imports inside functions count): for the structure tests."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def src_modules():
    """{dotted module name: file path} for every module under src/."""
    mods = {}
    for folder, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                mods[dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return mods


def import_graph():
    """{module: set of src modules it imports}, a package's own submodules excluded."""
    mods = src_modules()
    edges = {m: set() for m in mods}
    for module, path in mods.items():
        package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                while name and name not in mods:
                    name = name.rsplit(".", 1)[0] if "." in name else ""
                if name and name != module and not module.startswith(name + "."):
                    edges[module].add(name)
    return edges


def cycles(edges):
    """Modules that reach themselves through their imports."""
    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen
    return sorted(m for m in edges if m in reach(m))
