"""The package layers, checked on the source: storage at the bottom, the CLI at the top.

    storage  <-  annotate_app / generators / trainer  <-  curation  <-  curation.cli

Inside annotate_app, the screen (``annotate_app.web``: Streamlit pages, player, server) sits on the
annotation domain (the rest of annotate_app); the domain never imports the screen.

Every import counts, including those inside functions (the lazy ones that keep ``curate --help``
instant), so an upward import cannot hide in a function body.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("storage", "annotate_app", "generators", "trainer", "curation")
# What each layer may import from the project (besides itself).
ALLOWED = {
    "storage": set(),
    "annotate_app": {"storage"},
    "annotate_app.web": {"storage", "annotate_app"},
    "generators": {"storage"},
    "trainer": {"storage"},
    "curation": {"storage", "annotate_app", "annotate_app.web", "generators", "trainer"},
    "curation.cli": {"storage", "annotate_app", "annotate_app.web", "generators", "trainer", "curation"},
}
# The one module a layer may import from a layer not below it: the sampling settings and jobs file, which the
# policy generator validates with and writes (standard library only, so no torch comes with it).
EXCEPTIONS = {("generators", "trainer.generation.settings")}
SETTINGS = "trainer/generation/settings.py"
# Fields that make a class a copy of SampleConfig; two of them in one class is a second home for those settings.
SAMPLING_FIELDS = {"steps", "scheduler", "guidance_text", "guidance_audio", "overlap"}


SUBLAYERS = ("curation.cli", "annotate_app.web")


def layer_of(module: str) -> str:
    for sub in SUBLAYERS:
        if module == sub or module.startswith(sub + "."):
            return sub
    return module.split(".")[0]


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in ``source``, relative ones resolved against ``module``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            # `from curation import cli` imports curation.cli: name the submodule, not just the package
            out += [(node.lineno, f"{base}.{a.name}" if base in PROJECT or base == "curation" else base)
                    for a in node.names]
    return out


def violations(source: str, module: str, label: str) -> list[str]:
    me = layer_of(module)
    bad = []
    for line, name in imported_modules(source, module):
        top = name.split(".")[0]
        if top == "click" and me != "curation.cli":
            bad.append(f"{label}:{line}: imports click outside curation/cli/")
        if top not in PROJECT:
            continue
        target = layer_of(name)
        if target != me and target not in ALLOWED[me] and (me, name) not in EXCEPTIONS:
            bad.append(f"{label}:{line}: {me} imports {name} ({target} is not below {me})")
    return bad


def project_modules():
    for pkg in PROJECT:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            yield path, ".".join(parts)


def test_no_upward_or_sideways_import():
    bad = [v for path, module in project_modules()
           for v in violations(path.read_text(), module, str(path.relative_to(ROOT)))]
    assert not bad, "layering violations:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("storage.x", "from curation.pairs import build_pairs", "storage imports curation.pairs"),
        ("trainer.x", "def f():\n    from annotate_app import gold", "trainer imports annotate_app.gold"),
        ("generators.x", "import trainer.models", "generators imports trainer.models"),
        ("annotate_app.x", "from curation import cli", "annotate_app imports curation.cli"),
        ("curation.pairs", "from curation.cli import _util", "curation imports curation.cli "),
        ("annotate_app.submit", "from annotate_app.web.player import problems", "annotate_app imports annotate_app.web"),
        ("annotate_app.x", "def f():\n    from annotate_app import web", "annotate_app imports annotate_app.web"),
        ("trainer.x", "import annotate_app.web.server", "trainer imports annotate_app.web.server"),
        ("annotate_app.web.clip_page", "from annotate_app.submit import submit_clip", None),
        ("curation.cli.x", "from annotate_app.web.server import serve", None),
        ("trainer.x", "import click", "imports click outside curation/cli/"),
        ("storage.sub.x", "from .. import y", None),  # relative, inside its own layer
        ("curation.cli.x", "import click\nfrom trainer.run import run", None),
    ],
)
def test_checker_flags_what_it_should(module, source, expected):
    bad = violations(source, module, "probe.py")
    if expected is None:
        assert bad == []
    else:
        assert len(bad) == 1 and expected in bad[0], bad


def sampling_settings_copies(source: str, label: str) -> list[str]:
    """``label:line: Class`` for each class declaring two or more of SampleConfig's fields."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        names = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
        if len(names & SAMPLING_FIELDS) >= 2:
            out.append(f"{label}:{node.lineno}: {node.name} declares {sorted(names & SAMPLING_FIELDS)}")
    return out


def test_sampling_settings_have_one_home():
    bad = [v for path, _module in project_modules() if path.relative_to(ROOT).as_posix() != SETTINGS
           for v in sampling_settings_copies(path.read_text(), str(path.relative_to(ROOT)))]
    assert not bad, f"sampling settings declared outside {SETTINGS} (build a SampleConfig instead):\n" + "\n".join(bad)


def test_copy_check_flags_a_second_sampling_config():
    copy = "@dataclass\nclass PolicyConfig:\n    run: str = ''\n    scheduler: str = 'auto'\n    guidance_text: float = 5.0\n"
    assert sampling_settings_copies(copy, "probe.py") == ["probe.py:2: PolicyConfig declares ['guidance_text', 'scheduler']"]
    one = "class TrainState:\n    step: int = 0\n    scheduler: dict = None\n"  # a LR scheduler's state, not a copy
    assert sampling_settings_copies(one, "probe.py") == []


def test_settings_module_imports_only_the_standard_library():
    source = (ROOT / SETTINGS).read_text()
    tops = {name.split(".")[0] for _line, name in imported_modules(source, "trainer.generation.settings")}
    assert tops <= set(sys.stdlib_module_names) | {"__future__"}, sorted(tops - set(sys.stdlib_module_names))


def test_generators_may_import_the_settings_module_only():
    assert violations("from trainer.generation.settings import SampleConfig", "generators.policy.x", "p.py") == []
    bad = violations("from trainer.generation.clip import sample_clip", "generators.policy.x", "p.py")
    assert len(bad) == 1 and "generators imports trainer.generation.clip" in bad[0], bad
