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


PATH_PACKAGES = ("inference", "training", "streaming")


def _from_imports(path):
    """(absolute module, imported names) of each `from X import ...` in a sparkdl module."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(filter(None, [base, node.module or ""]))
            yield module, [alias.name for alias in node.names]


def test_scoring_training_and_streaming_share_code_only_through_public_names():
    offenders = []
    for owner in PATH_PACKAGES:
        for path in (ROOT / "sparkdl" / owner).glob("*.py"):
            for module, names in _from_imports(path):
                parts = module.split(".")
                other = parts[1] if len(parts) > 1 and parts[0] == "sparkdl" else None
                if other in (*PATH_PACKAGES, "runtime") and other != owner:
                    offenders += [f"{path.name}: {module}.{n}" for n in names
                                  if n.startswith("_") or any(p.startswith("_") for p in parts)]
    assert offenders == []


def test_runtime_never_imports_the_paths_that_use_it():
    files = list((ROOT / "sparkdl" / "runtime").glob("*.py"))
    offenders = [f"{f.name}: {module}" for f in files for module, _ in _from_imports(f)
                 if module.split(".")[1:2] and module.split(".")[1] in PATH_PACKAGES]
    assert offenders == []
