"""The dependency rules of ARCHITECTURE.md, checked in fresh interpreters."""
import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_import_sparkdl_does_not_import_tensorflow_or_pyspark():
    code = "import sys, sparkdl; print('tensorflow' in sys.modules, 'pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


def _imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_tf_package_and_tensors_never_import_pyspark():
    files = list((ROOT / "sparkdl" / "tf").glob("*.py")) + [ROOT / "sparkdl" / "tensors.py",
                                                           ROOT / "sparkdl" / "model_archive.py"]
    offenders = {str(f.relative_to(ROOT)): m for f in files for m in _imported_modules(f) if m.startswith("pyspark")}
    assert offenders == {}


def test_only_the_tf_package_imports_tensorflow():
    files = [f for f in (ROOT / "sparkdl").rglob("*.py") if "tf" not in f.relative_to(ROOT / "sparkdl").parts[:1]]
    offenders = {str(f.relative_to(ROOT)): m for f in files for m in _imported_modules(f)
                 if m.split(".")[0] in ("tensorflow", "keras")}
    assert offenders == {}
