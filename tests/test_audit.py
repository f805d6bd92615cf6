"""``adsorbstudy audit``: exact Boltzmann samples pass, mislabelled and correlated ones are caught, bad input
is one line with status 2, and the exact finite-size reference works at large L."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from adsorbstudy.analysis import audit
from adsorbstudy.physics import exact
from adsorbstudy.study import cli
from adsorbstudy.physics.montecarlo import NumbaMetropolis
from conftest import ROOT

L4, N4 = 4, 16
TEMPS = (1.5, 2.27, 3.0, 4.0)
SEEDS = range(5)


@pytest.fixture(scope="module")
def states():
    """All 2^16 configurations of the 4×4 torus (int8 ±1) and their total energies (each bond once)."""
    codes = np.arange(2**N4)
    s = (2 * ((codes[:, None] >> np.arange(N4)) & 1) - 1).astype(np.int8).reshape(-1, L4, L4)
    si = s.astype(np.int64)
    E = -(si * (np.roll(si, 1, 1) + np.roll(si, 1, 2))).sum((1, 2))
    return s, E


def boltzmann(states, T, n, rng):
    """n independent configurations drawn exactly from the Boltzmann distribution at T, by enumeration."""
    s, E = states
    w = np.exp(-(E - E.min()) / T)
    return s[rng.choice(len(E), size=n, p=w / w.sum())]


@pytest.fixture(scope="module")
def exact_samples(states):
    """{(seed, T): 2000 exact samples}: 5 seeds × 4 temperatures."""
    out = {}
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for T in TEMPS:
            out[seed, T] = boltzmann(states, T, 2000, rng)
    return out


def test_exact_samples_pass(exact_samples):
    """Statistically robust, not a lucky seed: at each T at most one of the 5 seeds may fail (|z| > 3 for e
    or C). The measured false-fail rate of one audit is 0.7 % (7 of 1000 audits, seeds 0–249; 4 of the 7
    at T = 1.5), so two failures at one T have probability ≈ 5e-4 (2.5e-3 at T = 1.5). No |z| reaches 5,
    and the mean z² is that of standard normal z (0.9–1.25 measured), so error bars that are too wide
    (which would pass |z| ≤ 3 trivially) fail too."""
    rows = {k: audit.audit_ensemble(x, k[1], seed=k[0]) for k, x in exact_samples.items()}
    for T in TEMPS:
        failed = [seed for seed in SEEDS if not rows[seed, T]["passed"]]
        assert len(failed) <= 1, (T, [(rows[s, T]["z_e"], rows[s, T]["z_C"]) for s in failed])
    z = np.array([[r["z_e"], r["z_C"]] for r in rows.values()])
    assert np.all(np.isfinite(z)) and np.abs(z).max() < 5
    assert 0.3 < np.mean(z[:, 0] ** 2) < 2.5 and 0.3 < np.mean(z[:, 1] ** 2) < 2.5, np.mean(z**2, axis=0)
    enum = exact.enumerate_exact(4, np.array(TEMPS))
    for (seed, T), r in rows.items():
        assert r["L"] == 4 and r["n"] == 2000 and r["T"] == T and not r["correlated"] and r["tau_reliable"]
        assert r["e_exact"] == pytest.approx(enum["e"][TEMPS.index(T)], abs=1e-12)
        assert r["C_exact"] == pytest.approx(enum["c"][TEMPS.index(T)], abs=1e-12)


def test_wrong_temperature_fails(exact_samples):
    """The same samples labelled T ± 0.3 fail wherever the exact e moves by more than 5 of their standard
    errors (all 40 cases here; the closest is T = 4.0 → 4.3 at 5.5–6.1 σ, where an exact sample would
    still pass with probability ≈ 0.6 % per seed). Labelled T ± 0.1 (seeds 0 and 1; z of 1–7), every verdict follows the
    documented rule: pass exactly when |z_e| ≤ 3 and |z_C| ≤ 3."""
    checked, between = 0, 0
    for (seed, T), x in exact_samples.items():
        right = audit.audit_ensemble(x, T, seed=seed)
        for shift in (-0.3, 0.3) + ((-0.1, 0.1) if seed < 2 else ()):
            wrong = audit.audit_ensemble(x, T + shift, seed=seed)
            z = max(abs(wrong["z_e"]), abs(wrong["z_C"]))
            assert wrong["passed"] == (z <= 3) and ("deviates by z =" in wrong["verdict"]) == (z > 3)
            between += 3 < z <= 5
            move = abs(float(exact.finite_size(4, T + shift)[0]) - right["e_exact"])
            if abs(shift) == 0.3 and move > 5 * right["e_err"]:
                assert not wrong["passed"], (seed, T, shift, wrong["verdict"])
                checked += 1
    assert checked >= 30 and between >= 3


def test_correlated_frames_are_caught():
    """One Metropolis chain at L = 16, T_c, saved every sweep: τ_int ≥ 5 is flagged and the errors are widened
    by sqrt(2 τ_int); the widened error of e (and |m|) matches the real scatter of chain means of the same
    length (256 independent chains) within 30 %, the bare bootstrap error is 3× too small."""
    L, T, n = 16, exact.TC, 4000
    chain = NumbaMetropolis(L, T, 1, seed=1, start="hot")
    chain.run(1000)
    frames = np.empty((n, L, L), np.int8)
    for k in range(n):
        chain.run(1)
        frames[k] = chain.configs()[0]
    r = audit.audit_ensemble(frames, T)
    assert max(r["tau_e"], r["tau_m"]) >= 5 and r["correlated"] and r["tau_reliable"]
    assert "frames correlated (τ_int = " in r["verdict"] and "errors widened" in r["verdict"]
    for q, tau in (("e", r["tau_e"]), ("C", r["tau_e"]), ("m_abs", r["tau_m"]), ("chi", r["tau_m"]), ("U4", r["tau_m"])):
        assert r[q + "_err"] / r[q + "_err_boot"] == pytest.approx(math.sqrt(2 * tau), rel=0.1)
    many = NumbaMetropolis(L, T, 256, seed=2, start="hot")
    many.run(1000)
    E, M = many.run(n, record=True)
    for q, series in (("e", E / L**2), ("m_abs", np.abs(M) / L**2)):
        true_se = series.mean(0).std(ddof=1)
        assert 0.7 < r[q + "_err"] / true_se < 1.3, (q, r[q + "_err"], true_se)
        assert r[q + "_err_boot"] / true_se < 0.5


def test_large_L_audit():
    """L = 256: random spins are exact samples at T → ∞; labelled T = 1e4 they pass, labelled T = 3 they fail."""
    x = np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(20, 256, 256))
    hot = audit.audit_ensemble(x, 1e4)
    assert hot["passed"], hot["verdict"]
    assert hot["e_exact"] == pytest.approx(-2 * math.tanh(1e-4), rel=1e-6)
    assert hot["C_exact"] == pytest.approx(2e-8, rel=1e-3)
    cold = audit.audit_ensemble(x, 3.0)
    assert not cold["passed"] and cold["z_e"] > 100 and cold["verdict"].startswith("e deviates by z = +")


def test_low_T_ground_state_and_untestable_C():
    """All frames in the ground state at T = 0.5 (L = 16) is what Boltzmann gives (P(excited) ≈ 3e-5 per frame):
    z_e stays finite through the exact-sample error floor, and C is not tested (no excitations)."""
    x = np.ones((500, 16, 16), np.int8)
    x[::2] *= -1
    r = audit.audit_ensemble(x, 0.5)
    assert r["passed"] and math.isfinite(r["z_e"]) and abs(r["z_e"]) < 1 and math.isnan(r["z_C"])
    assert "C not tested: only 0 frames differ" in r["verdict"]
    r = audit.audit_ensemble(x, 2.0)                               # frozen at T = 2 is wrong
    assert not r["passed"] and r["z_e"] < -10


def test_input_formats_agree(tmp_path, states):
    """±1, 0/1, real values with --binarize, .npz keys, .npy (3-D and stacked 4-D), .pt tensor/dict/list: same numbers."""
    import torch

    rng = np.random.default_rng(7)
    a, b = boltzmann(states, 2.0, 300, rng), boltzmann(states, 3.0, 300, rng)
    ref = audit.audit_file(_save(tmp_path / "pm.npz", {"T=2.0": a, "3": b}))
    assert [r["T"] for r in ref] == [2.0, 3.0] and [r["key"] for r in ref] == ["T=2.0", "3"]
    variants = [
        (_save(tmp_path / "01.npz", {"T_2.0": (a + 1) // 2, "T3.0": ((b + 1) // 2).astype(bool)}), {}),
        (_save(tmp_path / "real.npz", {"2": 0.7 * a + rng.uniform(-0.5, 0.5, a.shape),
                                       "3": 0.7 * b + rng.uniform(-0.5, 0.5, b.shape)}), {"binarize": "sign"}),
        (_save(tmp_path / "p.npz", {"x": (a + 1) / 2 * 0.8 + 0.1, "y": (b + 1) / 2 * 0.8 + 0.1}),
         {"binarize": "threshold", "temperatures": [2.0, 3.0]}),
        (_save(tmp_path / "stack.npy", np.stack([a, b])), {"temperatures": [2.0, 3.0]}),
    ]
    for name, obj in (("d.pt", {"2.0": torch.from_numpy(a), "T=3": torch.from_numpy(b).float()}),
                      ("l.pt", [torch.from_numpy(a), torch.from_numpy(b)])):
        torch.save(obj, tmp_path / name)
        variants.append((tmp_path / name, {} if name == "d.pt" else {"temperatures": [2.0, 3.0]}))
    for path, kw in variants:
        rows = audit.audit_file(path, **kw)
        for r, r0 in zip(rows, ref):
            assert {k: r[k] for k in r if k != "key"} == {k: r0[k] for k in r0 if k != "key"}, path
    np.save(tmp_path / "one.npy", a)
    torch.save(torch.from_numpy(a), tmp_path / "one.pt")
    for p in (tmp_path / "one.npy", tmp_path / "one.pt"):
        (r,) = audit.audit_file(p, [2.0])
        assert r["e"] == ref[0]["e"] and r["key"] == p.name


def _save(path, arrays):
    if path.suffix == ".npz":
        np.savez(path, **arrays)
    else:
        np.save(path, arrays)
    return path


def test_cli_outputs(tmp_path, capsys, states):
    """CSV and PNG next to the input by default (or at --out), the table and verdicts on stdout, --json parses."""
    rng = np.random.default_rng(3)
    f = _save(tmp_path / "ens.npz", {f"T={T}": boltzmann(states, T, 400, rng) for T in (2.0, 3.0)})
    assert cli.main(["audit", str(f)]) == 0
    out = capsys.readouterr().out
    assert "\nT = 2 (L = 4, array T=2.0): " in out and "\nT = 3 (L = 4, array T=3.0): " in out and f"wrote {tmp_path / 'ens.audit.csv'}" in out
    lines = (tmp_path / "ens.audit.csv").read_text().splitlines()
    assert lines[0].split(",") == list(audit.COLUMNS) and len(lines) == 3
    assert (tmp_path / "ens.audit.png").read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["audit", str(f), "--json", "--out", str(tmp_path / "x" / "run")]) == 0   # made, atomically
    assert (tmp_path / "x" / "run.csv").read_text().splitlines() == lines and capsys.readouterr().err == ""
    (tmp_path / "file").write_text("")
    assert cli.main(["audit", str(f), "--json", "--out", str(tmp_path / "file" / "run")]) == 2   # cannot write
    assert capsys.readouterr().err.startswith("adsorbstudy: error: cannot write")
    assert cli.main(["audit", str(f), "--json", "--out", str(tmp_path / "run")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["all_passed"] in (True, False) and doc["csv"] == str(tmp_path / "run.csv")
    assert [r["T"] for r in doc["results"]] == [2.0, 3.0] and set(doc["results"][0]) == set(audit.COLUMNS)
    assert (tmp_path / "run.png").exists()


BAD = [  # (file name, content, extra arguments, words the one line must contain)
    ("flat.npy", np.ones((10, 16), np.int8), ["--T", "2"], "expected 3 dimensions (n, L, L)"),
    ("five.npz", {"2.0": np.ones((2, 3, 4, 4, 4))}, [], "expected 3 dimensions"),
    ("rect.npz", {"2.0": np.ones((10, 8, 6))}, [], "lattice is not square: 8×6"),
    ("nan.npz", {"2.0": np.where(np.eye(4)[None] > 0, np.nan, 1.0).repeat(3, 0)}, [], "contains 12 NaN or infinite values"),
    ("twos.npz", {"2.0": np.full((5, 4, 4), 2)}, [], "values outside the accepted set"),
    ("mixed.npz", {"2.0": np.array([-1, 0, 1, 1] * 20).reshape(5, 4, 4)}, [], "values mix -1, 0 and +1"),
    ("real.npz", {"2.0": np.full((5, 4, 4), 0.3)}, [], "real values (e.g. 0.3): state a binarisation"),
    ("thr.npz", {"2.0": np.full((5, 4, 4), -0.3)}, ["--binarize", "threshold"], "needs values in [0, 1]"),
    ("zero.npz", {"2.0": np.zeros((5, 4, 4))}, ["--binarize", "sign"], "80 values are exactly 0"),
    ("neg.npz", {"T=-1": np.ones((5, 4, 4))}, [], "temperature must be a finite number > 0"),
    ("zeroT.npz", {"T=0": np.ones((5, 4, 4))}, [], "temperature must be a finite number > 0"),
    ("name.npz", {"hot": np.ones((5, 4, 4))}, [], "cannot read a temperature from it"),
    ("empty.npz", {"2.0": np.ones((0, 4, 4))}, [], "empty array"),
    ("one.npz", {"2.0": np.ones((1, 4, 4))}, [], "need at least 2 configurations"),
    ("count.npz", {"a": np.ones((5, 4, 4)), "b": np.ones((5, 4, 4))}, ["--T", "2"], "2 arrays but 1 temperatures"),
    ("noT.npy", np.ones((5, 4, 4)), [], "a single array carries no temperature; pass --T"),
    ("junk.npz", b"not a zip file", [], "cannot read as .npz"),
    ("data.txt", b"1 -1", [], "unknown file type '.txt'"),
    ("missing.npz", None, [], "no such file"),
    ("ok.npz", {"2.0": np.ones((5, 4, 4))}, ["--T", "0"], "argument --T: temperature must be a finite number > 0"),
    ("ok.npz", {"2.0": np.ones((5, 4, 4))}, ["--T", "warm"], "temperature 'warm' is not a number"),
    ("ok.npz", {"2.0": np.ones((5, 4, 4))}, ["--binarize", "round"], "argument --binarize: invalid choice"),
]


def _write_bad(path, content):
    if content is None:
        return
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif path.suffix == ".npz":
        np.savez(path, **content)
    else:
        np.save(path, content)


@pytest.mark.parametrize("name, content, args, words", BAD, ids=[f"{b[0]}:{b[3][:24]}" for b in BAD])
def test_bad_input_is_one_line_status_2(tmp_path, capsys, name, content, args, words):
    _write_bad(tmp_path / name, content)
    try:
        rc = cli.main(["audit", str(tmp_path / name), *args])
    except SystemExit as exc:                                      # argparse's own errors (one line too)
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("adsorbstudy: error: ") and words in err, err
    assert not list(tmp_path.glob("*.audit.*"))                    # nothing written


def test_bad_pt_object(tmp_path, capsys):
    import torch

    torch.save({"2.0": np.ones((5, 4, 4))}, tmp_path / "np.pt")   # a numpy array inside: not weights_only
    assert cli.main(["audit", str(tmp_path / "np.pt")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "np.pt: cannot read as .pt: " in err, err


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    x = np.ones((10, 8, 6), np.int8)
    np.save(tmp_path / "rect.npy", x)
    res = subprocess.run([sys.executable, "-m", "adsorbstudy", "audit", str(tmp_path / "rect.npy"), "--T", "2.0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == "adsorbstudy: error: rect.npy: lattice is not square: 8×6 (expected (n, L, L))\n"
    assert "Traceback" not in res.stderr
