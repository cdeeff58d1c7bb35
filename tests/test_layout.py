"""Test modules import shared helpers from helper modules (tests/corpus.py, damage.py,
spec_reference.py), never from another test_*.py: pytest has already imported that file as
"test_x", so "tests.test_x" runs it a second time, and one test file's refactoring breaks another."""
import ast
import glob
import os

TESTS = os.path.dirname(os.path.abspath(__file__))


def imported_modules(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_test_module_imports_another():
    offenders = [(os.path.basename(path), module) for path in sorted(glob.glob(os.path.join(TESTS, "test_*.py")))
                 for module in imported_modules(path) if module.split(".")[-1].startswith("test_")]
    assert offenders == []
