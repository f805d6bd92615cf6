"""What a reader of the book sees from a run: one parameter cell, bounded progress output, no kernel noise."""
import io
import os
import sys
import textwrap
from pathlib import Path

import nbformat

from adsorbstudy.study import runtime
from adsorbstudy.study.runner import PARAMETERS_CAPTION
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_the_book_shows_the_parameters_of_this_run_once_and_the_kernel_log_is_quiet(fixture_root):
    (fixture_root / "params" / "fx.yaml").write_text("runs:\n  - notebook: 10-ok\n    parameters: {n: 2, label: b}\n")
    res = run_cli(["study", "--profile", "fx"], fixture_root)
    assert res.returncode == 0, res.stderr
    nb = nbformat.read(fixture_root / "book" / "generated" / "10-ok.ipynb", as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    # the notebook's defaults (profile = "fixture", n = 3) are removed from the book ...
    defaults = [c for c, t in zip(nb.cells, tags) if "parameters" in t]
    assert len(defaults) == 1 and "remove-cell" in defaults[0].metadata["tags"] and "n = 3" in defaults[0].source
    # ... and the injected values are shown once, folded, after a caption
    i = next(k for k, t in enumerate(tags) if "injected-parameters" in t)
    assert "n = 2" in nb.cells[i].source and 'label = "b"' in nb.cells[i].source and "hide-input" in tags[i]
    assert nb.cells[i - 1].cell_type == "markdown" and nb.cells[i - 1].source == PARAMETERS_CAPTION
    shown = [c for c, t in zip(nb.cells, tags) if c.cell_type == "code" and "remove-cell" not in t and "n = " in c.source]
    assert len(shown) == 1
    # ipykernel's "running over TCP without encryption" warning: the kernels run over IPC
    assert "without encryption" not in res.stderr + res.stdout


def test_progress_bar_settings(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    bar = runtime.progress_bar(range(3))
    assert bar.mininterval == runtime.PROGRESS_INTERVAL_S and not bar.disable
    bar.close()
    monkeypatch.setenv("TQDM_DISABLE", "1")  # the runner's setting wins over a caller's disable=False
    assert runtime.progress_bar(range(3), disable=False).disable

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("TQDM_DISABLE")
    monkeypatch.setattr(sys, "stderr", Tty())
    bar = runtime.progress_bar(range(3))
    assert bar.mininterval < 1 and not bar.disable
    bar.close()


def test_progress_output_of_an_executed_notebook_is_bounded(tmp_path, monkeypatch):
    # a two-second loop, executed by papermill as the runner does but with progress bars on: tqdm's
    # default would store an update every 0.1 s (about 20 here, thousands for a training run)
    import papermill as pm

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent("""
        import time
        from adsorbstudy.study.runtime import progress_bar
        bar = progress_bar(total=40, desc="loop")
        for _ in range(40):
            time.sleep(0.05)
            bar.set_postfix(loss=0.5, refresh=False)
            bar.update(1)
        bar.close()
    """))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, out = tmp_path / "loop.ipynb", tmp_path / "loop-out.ipynb"
    nbformat.write(nb, src)
    pm.execute_notebook(str(src), str(out), kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    text = "".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", []))
    updates = text.count("\r")
    assert "40/40" in text and 1 <= updates <= 3 and len(text) < 600, (updates, len(text))
