"""Every config dataclass documents every field the same way: ``field(metadata={"help": ...})``.

``trainer/dpo_config.py`` is the model (its ``_f`` helper builds such a field); ``--help-config``
and the docs read the help from there, so a field without it is a setting nobody can look up.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("storage", "annotate_app", "generators", "trainer", "curation")


def _is_dataclass(node: ast.ClassDef) -> bool:
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name) and target.id == "dataclass":
            return True
    return False


def undocumented(source: str) -> list[str]:
    """``Class.field`` for each field of a ``*Config`` / ``*Settings`` dataclass without help metadata."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and _is_dataclass(node) and node.name.endswith(("Config", "Settings"))):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                code = ast.unparse(stmt.value) if stmt.value is not None else ""
                if not (code.startswith("_f(") or (code.startswith("field(") and "'help'" in code)):
                    bad.append(f"{node.name}.{stmt.target.id}")
    return bad


def test_every_config_field_has_help():
    bad = [f"{path.relative_to(ROOT)}: {name}"
           for pkg in PACKAGES for path in sorted((ROOT / pkg).rglob("*.py")) for name in undocumented(path.read_text())]
    assert not bad, "config fields without help metadata:\n" + "\n".join(bad)


def test_the_check_sees_a_bare_field():
    src = "@dataclass\nclass XConfig:\n    a: int = 1\n    b: int = field(default=2, metadata={'help': 'b.'})\n"
    assert undocumented(src) == ["XConfig.a"]
