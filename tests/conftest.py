import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_root(tmp_path, monkeypatch):
    """A throw-away study root holding the fixture notebooks and a profile that runs them."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks").mkdir()
    for nb in FIXTURES.glob("*.py"):
        shutil.copy(nb, tmp_path / "notebooks" / nb.name)
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(tmp_path))
    return tmp_path


def run_cli(args, root, timeout=300):
    """Run ``python -m adsorbstudy`` in a subprocess against the study root ``root``."""
    import os
    import subprocess

    env = dict(os.environ, ADSORBSTUDY_ROOT=str(root))
    return subprocess.run([sys.executable, "-m", "adsorbstudy", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
