"""The shape of the code, read from its imports (every import, also those inside functions):

- `models` imports nothing of ours; `extractors` and `checks` import only `models`;
  `verifier` never imports `api`; nothing installed imports `samples`, `bench` or `tests`;
- every import of ours goes through the `kiemchung.` namespace (a bare `import api` would load
  a second copy of the module from the working directory);
- no circle between the top-level folders;
- every package folder is in pyproject's package list, so the wheel holds what the repository
  has.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = ("models", "extractors", "checks", "verifier", "api")
OURS = (*INSTALLED, "samples", "bench", "tests")
# What each installed folder may import of ours (besides itself).
ALLOWED = {
    "models": set(),
    "extractors": {"models"},
    "checks": {"models"},
    "verifier": {"models", "extractors", "checks"},
    "api": {"models", "extractors", "checks", "verifier"},
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def our_folder(module: str) -> str | None:
    """The top-level folder of ours a module name points to, or None for a library."""
    parts = module.split(".")
    if parts[0] == "kiemchung":
        return parts[1] if len(parts) > 1 else "kiemchung"
    return parts[0] if parts[0] in OURS else None


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_each_folder_imports_only_what_it_may():
    wrong = []
    for folder in INSTALLED:
        for path in python_files(folder):
            for line, module in imported_modules(path):
                target = our_folder(module)
                if target is not None and target != folder and target not in ALLOWED[folder]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_every_import_of_ours_goes_through_the_namespace():
    bare = []
    for folder in OURS:
        for path in python_files(folder):
            for line, module in imported_modules(path):
                if module.split(".")[0] in INSTALLED:
                    bare.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bare, "\n".join(bare)


def test_no_circle_between_top_level_folders():
    edges: dict[str, set[str]] = {folder: set() for folder in OURS}
    for folder in OURS:
        for path in python_files(folder):
            for _, module in imported_modules(path):
                target = our_folder(module)
                if target in edges and target != folder:
                    edges[folder].add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
                   for nxt in edges[start])

    circles = [folder for folder in OURS if reaches(folder, folder, {folder})]
    assert not circles, {folder: sorted(edges[folder]) for folder in circles}


def test_the_rules_catch_a_wrong_import(tmp_path):
    # The checks above must be able to fail: a file of `checks` importing the verifier.
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def f():\n    from kiemchung.verifier.ruleset import RuleSet\n",
                     encoding="utf-8")
    targets = {our_folder(module) for _, module in imported_modules(wrong)}
    assert targets == {"verifier"} and "verifier" not in ALLOWED["checks"]


def test_every_package_folder_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    mapping = config["tool"]["setuptools"]["package-dir"]
    assert mapping == {f"kiemchung.{folder}": folder for folder in INSTALLED}
    folders = {"kiemchung." + ".".join(init.parent.relative_to(ROOT).parts)
               for folder in INSTALLED for init in (ROOT / folder).rglob("__init__.py")}
    assert listed == folders
