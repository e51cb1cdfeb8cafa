"""The package's shape, checked: layers import downward only and no package has an import cycle (the
import-linter contracts of pyproject.toml), modules and the façade stay small, no private name crosses a
module boundary, and docs/background/architecture.md's layer diagram is the code's."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sigae"
MODULE_LINES = 450  # "no module over ~450 lines" (the restructuring issue)
FACADE_LINES = 250  # SignalAutoencoder stays a façade
LOOP_FUNCTION_LINES = 80  # functions of the training loop, unless a comment says why (marked "long:")


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_import_contracts_hold():
    """lint-imports (import-linter) with the contracts of pyproject.toml: layers downward only, no cycles."""
    pytest.importorskip("importlinter")
    result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                             "sys.exit(lint_imports_command())"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout, result.stdout[-2000:]


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """The contract is not vacuous: the same check on a copy of the package with one upward import (the data
    layer importing the estimator) fails, naming that import."""
    pytest.importorskip("importlinter")
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(PACKAGE, copy / "sigae", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    windows = copy / "sigae" / "data" / "windows.py"
    windows.write_text(windows.read_text(encoding="utf-8") + "\n\ndef _upward():\n"
                       "    from sigae.estimator.autoencoder import SignalAutoencoder  # noqa: F401\n",
                       encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, '.'); "
                             "from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"],
                            cwd=copy, capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0, result.stdout[-2000:]
    assert "sigae.data.windows -> sigae.estimator.autoencoder" in result.stdout, result.stdout[-3000:]


def test_no_module_is_over_the_size_limit():
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in modules()}
    assert {m: n for m, n in sizes.items() if n > MODULE_LINES} == {}


def test_signal_autoencoder_is_a_facade():
    tree = ast.parse((PACKAGE / "estimator" / "autoencoder.py").read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SignalAutoencoder"]
    assert cls.end_lineno - cls.lineno + 1 <= FACADE_LINES


def test_training_loop_functions_are_short_or_say_why():
    for path in sorted((PACKAGE / "training").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                docstring = node.body[0] if isinstance(node.body[0], ast.Expr) and \
                    isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str) else None
                skip = range(docstring.lineno, docstring.end_lineno + 1) if docstring else range(0)
                code = [lines[i - 1] for i in range(node.lineno, node.end_lineno + 1) if i not in skip]
                if len(code) > LOOP_FUNCTION_LINES:  # the code, not its docstring
                    assert any("long:" in line for line in code), \
                        f"{path.name}: {node.name} has {len(code)} lines of code and no 'long:' comment saying why"


def private_imports():
    """``(importing module, imported module, name)`` for every private name imported from another module."""
    found = []
    for path in modules():
        importer = module_name(path)
        package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if not base.startswith("sigae"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((importer, base, alias.name))
    return found


def test_no_private_name_crosses_a_module_boundary():
    assert private_imports() == []


def test_the_private_name_check_finds_one():
    """The check above is not vacuous: it finds a private import written the way the old code had them."""
    node = ast.parse("from sigae.data.io.writing import _csv_text\n").body[0]
    assert node.names[0].name.startswith("_") and node.module.startswith("sigae")


def test_the_architecture_page_shows_the_code_s_layers():
    pytest.importorskip("grimp")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "architecture.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "architecture.py")], capture_output=True, text=True).stdout
