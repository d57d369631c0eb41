"""The layers of docs/architecture.md: each part imports only the layers below it, and only the
trainer imports torch."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Folder -> the runwatch packages its modules may import (besides their own).
ALLOWED = {
    "runwatch": {"runwatch"},  # the ground modules import only each other (cli.py is apart)
    "stream": {"runwatch"},
    "hooks": {"runwatch", "runwatch.stream"},  # other trainers' callbacks: nothing imports them
    "ckpt_tools": {"runwatch", "runwatch.stream"},
    "forecast": {"runwatch", "runwatch.stream"},
    "trainer": {"runwatch", "runwatch.stream", "runwatch.ckpt_tools"},
    "tui": {"runwatch", "runwatch.stream", "runwatch.ckpt_tools", "runwatch.forecast",
            "runwatch.trainer"},
}
PARTS = ("runwatch.stream", "runwatch.hooks", "runwatch.ckpt_tools", "runwatch.forecast",
         "runwatch.trainer", "runwatch.tui")
TORCH_FREE = ("runwatch", "stream", "ckpt_tools", "forecast", "tui", "hooks")
LIBRARY = ("runwatch", "stream", "ckpt_tools", "forecast", "tui", "trainer", "hooks")
TEST_ONLY = ("scipy", "pandas")  # the `test` extra: a monitor-only install has neither


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def layer_of(module: str) -> str | None:
    """'runwatch' for the ground modules, the part's name, or None for other packages."""
    if module != "runwatch" and not module.startswith("runwatch."):
        return None
    for part in PARTS:
        if module == part or module.startswith(part + "."):
            return part
    return "runwatch"


def test_each_part_imports_only_the_layers_below_it():
    wrong = []
    for folder, allowed in ALLOWED.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            if folder == "runwatch" and path.name in ("cli.py", "__main__.py"):
                continue  # the command dispatches to every part: the top shell, not the ground
            own = "runwatch" if folder == "runwatch" else f"runwatch.{folder}"
            for module in imported_modules(path):
                layer = layer_of(module)
                if layer is not None and layer != own and layer not in allowed:
                    wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert wrong == []


def module_level_imports(path: Path) -> set[str]:
    """Imports run when the module is imported (not those inside a function)."""
    tree = ast.parse(path.read_text())
    inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef))
              for n in ast.walk(f)}
    return {alias.name.split(".")[0] for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in inside
            for alias in (node.names if isinstance(node, ast.Import)
                          else [ast.alias(node.module or "")])}


def test_only_the_trainer_imports_torch():
    # Legacy (pre-zip) checkpoints are read by torch's own weights-only loader, imported in the
    # function that needs it; nothing else of the monitor-only parts touches torch.
    wrong = [f"{path.relative_to(REPO)} imports {module}"
             for folder in TORCH_FREE for path in sorted((REPO / folder).rglob("*.py"))
             for module in module_level_imports(path) if module in ("torch", "torchvision")]
    assert wrong == []


def test_the_hooks_import_their_trainer_only_in_their_own_module():
    # runwatch.hooks is optional: importing the package (or the plan) pulls in no trainer, and
    # only hooks/lightning.py and hooks/hf.py import Lightning and transformers.
    heavy = ("lightning", "pytorch_lightning", "transformers", "torch")
    wrong = [f"{path.relative_to(REPO)} imports {module}"
             for path in sorted((REPO / "hooks").rglob("*.py"))
             for module in module_level_imports(path) if module in heavy
             and (path.stem, module) not in (("lightning", "lightning"), ("hf", "transformers"))]
    assert wrong == []


def test_no_library_module_imports_a_test_only_package():
    # Not even inside a function: the package would be missing when it runs.
    wrong = [f"{path.relative_to(REPO)} imports {module}"
             for folder in LIBRARY for path in sorted((REPO / folder).rglob("*.py"))
             for module in imported_modules(path) if module.split(".")[0] in TEST_ONLY]
    assert wrong == []
