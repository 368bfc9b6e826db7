"""import-linter holds engine.domain pure: a copy of the tree whose domain imports the runner fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "builder", "stats", "journeys_site", "accounts")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            shutil.copytree(
                ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("node_modules")
            )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is a dev dependency")
def test_the_contracts_hold_and_an_injected_runner_import_breaks_them(tree: Path) -> None:
    assert _lint(tree).returncode == 0
    probe = tree / "engine" / "domain" / "probe.py"
    probe.write_text('"""Probe."""\n\nfrom engine import runner  # noqa: F401\n')
    result = _lint(tree)
    assert result.returncode != 0
    assert "engine.domain is pure" in result.stdout
    assert "engine.domain.probe -> engine.runner" in result.stdout
