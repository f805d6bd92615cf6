"""``adsorbstudy audit FILE``: check anyone's 2D Ising ensemble against the exact finite-size torus.

Input. ``.npz`` (one array per temperature; the key names it: "2.269", "T=2.269", "T_2.269",
"T2.269"), ``.npy`` (one array), or ``.pt`` (``torch.load(weights_only=True)``: a tensor, a dict
of tensors keyed like the npz, or a list of tensors). Each array holds configurations (n, L, L)
of one temperature, frames in the order they were saved; a single (k, n, L, L) array holds k
temperatures. ``temperatures`` (``--T``) name the arrays in order instead of the keys. Spins are
±1, or 0/1 (mapped to 2s − 1), or real values with a stated binarisation: ``sign`` (+1 where
x > 0, −1 where x < 0; an exact 0 is an error) or ``threshold`` (values in [0, 1]; +1 where
x ≥ 0.5). Bad input raises ``AuditError`` (a ``ValueError``) with a one-line message.

Per temperature (J = 1, k_B = 1, periodic L×L lattice, the study's conventions, see
:mod:`adsorbstudy.physics.observables`): n, L; e, ``|m|``, C, χ, U4 from :func:`adsorbstudy.physics.observables.thermo_stats`
with bootstrap errors over frames; τ_int of the e and ``|m|`` series in frame order
(:func:`adsorbstudy.physics.autocorr.integrated_autocorr_time`). The bootstrap treats frames as independent,
so errors are widened: e and C by sqrt(2 τ_int(e)), ``|m|``, χ and U4 by ``sqrt(2 τ_int(|m|))``, whenever
τ_int > 0.5 (the estimator never returns less than 0.5). The ``*_err_boot`` fields keep the raw
bootstrap errors. For C (a variance) both the bootstrap error and the widening by the energy's
τ_int are approximations; they are good when many frames are excited above the most common
energy and worse for very few (then C is not tested; see ``MIN_EXCITED``).

Verdict. z_e = (e − e_exact)/σ_e and z_C = (C − c_exact)/σ_C against :func:`adsorbstudy.physics.exact.finite_size`
at the data's L and T, where σ_e is the widened error but at least the standard error
sqrt(2τ_int(e) · Var_exact(e)/n) an exact Boltzmann sample of n frames would have
(Var_exact(e) = c_exact T²/N; this floor keeps z_e finite when every frame has the same energy,
e.g. all in the ground state at low T). The ensemble passes at T when ``|z_e| ≤ 3`` and ``|z_C| ≤ 3``
(``Z_PASS``): an exact sample fails one of the two with probability ≈ 0.5 % (two-sided
Gaussian tails, 2 × 0.27 %), so among many temperatures expect an occasional failure. Frames are
called correlated when max τ_int ≥ 1 (``TAU_CORRELATED``; for independent frames the estimate
scatters around 0.5 by about sqrt(3/n)); that does not fail the verdict, the errors are widened.
``|m|``, χ and U4 are reported without a z-score (the exact torus gives e and c only).
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from ..physics.lattice import to_spins
from ..study.store import atomic_write, atomic_write_text
from ..study.validate import int_option

#: |z| at or below which e and C pass.
Z_PASS = 3.0
#: τ_int (frames) at or above which the verdict calls the frames correlated.
TAU_CORRELATED = 1.0
#: C is tested only when at least this many frames differ from the most common energy.
MIN_EXCITED = 10
#: Bootstrap resamples per temperature (``--n-boot``).
N_BOOT = 200
#: The CSV columns, in order (units: T in J/k_B; e in J per spin; C in k_B per spin; χ in 1/J per spin).
COLUMNS = ("key", "T", "L", "n", "e", "e_err", "e_exact", "z_e", "C", "C_err", "C_exact", "z_C",
           "m_abs", "m_abs_err", "chi", "chi_err", "U4", "U4_err", "tau_e", "tau_m", "tau_reliable",
           "widen_e", "widen_m", "e_err_boot", "C_err_boot", "m_abs_err_boot", "chi_err_boot",
           "U4_err_boot", "excited", "passed", "correlated", "verdict")
BINARIZE = ("sign", "threshold")
SUFFIXES = (".npz", ".npy", ".pt")
_KEY = re.compile(r"^\s*(?:T\s*[=_:]?\s*)?([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$", re.IGNORECASE)


class AuditError(ValueError):
    """Bad input for the audit; the message is one line naming the file, the array and the problem."""


def _one_line(text) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- input
def check_temperature(T, where: str = "T") -> float:
    """``T`` as a float: a finite number > 0 (J/k_B), else ``AuditError``."""
    try:
        t = float(T)
    except (TypeError, ValueError):
        raise AuditError(f"{where}: temperature {T!r} is not a number") from None
    if not math.isfinite(t) or t <= 0:
        raise AuditError(f"{where}: temperature must be a finite number > 0 (J/k_B); got {T!r}")
    return t


def parse_temperature(key) -> float:
    """The temperature an array's name gives: "2.269", "T=2.269", "T_2.269", "T2.269" (or a number key)."""
    if isinstance(key, (int, float, np.integer, np.floating)) and not isinstance(key, bool):
        return check_temperature(key, f"key {key!r}")
    m = _KEY.match(str(key))
    if not m:
        raise AuditError(f"key {key!r}: cannot read a temperature from it; name the arrays by temperature "
                         f"('2.269' or 'T=2.269') or pass --T")
    return check_temperature(m.group(1), f"key {key!r}")


def read_spins(x, binarize: str | None = None, where: str = "spins") -> np.ndarray:
    """Configurations ``x`` (n, L, L) as int8 spins ±1, checking shape and values (see the module doc).

    ±1 is used as is and 0/1 becomes 2s − 1 (either with ``binarize`` None); real values need
    ``binarize`` "sign" or "threshold". Raises ``AuditError`` naming ``where`` and the problem.
    """
    a = np.asarray(x)
    if a.ndim != 3:
        raise AuditError(f"{where}: expected 3 dimensions (n, L, L) per temperature; got shape {a.shape}")
    n, L1, L2 = a.shape
    if a.size == 0:
        raise AuditError(f"{where}: empty array (shape {a.shape})")
    if L1 != L2:
        raise AuditError(f"{where}: lattice is not square: {L1}×{L2} (expected (n, L, L))")
    if L1 < 2:
        raise AuditError(f"{where}: L must be at least 2; got {L1}")
    if n < 2:
        raise AuditError(f"{where}: need at least 2 configurations for errors and τ_int; got {n}")
    if a.dtype == bool:
        a = a.astype(np.int8)
    if a.dtype.kind not in "iuf":
        raise AuditError(f"{where}: values must be numbers; got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise AuditError(f"{where}: contains {int(np.count_nonzero(~np.isfinite(a)))} NaN or infinite values")
    if binarize is None:
        if np.all((a == 1) | (a == -1)):
            return a.astype(np.int8)
        if np.all((a == 0) | (a == 1)):
            return to_spins(a)
        odd = a[(a != 1) & (a != -1) & (a != 0)]
        if odd.size == 0:
            raise AuditError(f"{where}: values mix -1, 0 and +1; expected spins ±1 or occupancies 0/1")
        if a.dtype.kind == "f" and np.any(odd != np.round(odd)):
            raise AuditError(f"{where}: real values (e.g. {odd.flat[0]:.4g}): state a binarisation with "
                             f"--binarize sign (at 0) or --binarize threshold (at 0.5, for values in [0, 1])")
        raise AuditError(f"{where}: values outside the accepted set (e.g. {odd.flat[0]:g}); expected spins ±1, "
                         f"occupancies 0/1, or real values with --binarize")
    if binarize == "sign":
        zeros = int(np.count_nonzero(a == 0))
        if zeros:
            raise AuditError(f"{where}: --binarize sign: {zeros} values are exactly 0, where the sign is "
                             f"undefined (0/1 data need no --binarize; [0, 1] data: --binarize threshold)")
        return np.where(a > 0, 1, -1).astype(np.int8)
    if binarize == "threshold":
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 1:
            raise AuditError(f"{where}: --binarize threshold needs values in [0, 1]; got [{lo:.4g}, {hi:.4g}] "
                             f"(use --binarize sign for values centred on 0)")
        return to_spins(a >= 0.5)
    raise AuditError(f"binarize must be one of {', '.join(BINARIZE)}; got {binarize!r}")


def _numpy(v):
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a declared dependency
        return np.asarray(v)
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        if v.dtype in (torch.bfloat16, torch.float16):
            v = v.float()
        return v.numpy()
    return np.asarray(v)


def _read(path: Path) -> tuple[list, str]:
    """(list of (key or None, array), kind) from the file; every read error becomes an AuditError."""
    if not path.exists():
        raise AuditError(f"{path}: no such file")
    if not path.is_file():
        raise AuditError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise AuditError(f"{path}: unknown file type {path.suffix!r}; expected {', '.join(SUFFIXES)}")
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return [(k, z[k]) for k in z.files], "mapping"
        if suffix == ".npy":
            return [(None, np.load(path, allow_pickle=False))], "array"
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=True)
    except AuditError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read is the input's problem, reported in one line
        raise AuditError(f"{path}: cannot read as {suffix}: {_one_line(exc)[:300]}") from None
    if isinstance(obj, dict):
        return [(k, _numpy(v)) for k, v in obj.items()], "mapping"
    if isinstance(obj, (list, tuple)):
        return [(None, _numpy(v)) for v in obj], "list"
    try:
        return [(None, _numpy(obj))], "array"
    except Exception:  # noqa: BLE001
        raise AuditError(f"{path}: expected a tensor, a dict of tensors or a list of tensors; "
                         f"got {type(obj).__name__}") from None


def load(path, temperatures=None, binarize: str | None = None) -> list[dict]:
    """The ensembles in ``path``: a list of {"key", "T", "spins" (int8 ±1, (n, L, L))} in file order.

    ``temperatures``: None (from the keys of an npz or a dict) or a sequence naming the arrays in
    order (required for .npy, a tensor or a list; a (k, n, L, L) array needs k of them).
    """
    path = Path(path)
    items, kind = _read(path)
    if not items:
        raise AuditError(f"{path}: no arrays in the file")
    temps = None
    if temperatures is not None:
        temps = [check_temperature(t, "--T") for t in np.atleast_1d(np.asarray(temperatures, dtype=object))]
        if not temps:
            raise AuditError("--T: give at least one temperature")
    if kind == "array":
        a = np.asarray(items[0][1])
        if temps is None:
            raise AuditError(f"{path}: a single array carries no temperature; pass --T")
        if a.ndim == 4:
            items = [(None, a[i]) for i in range(a.shape[0])]
        elif a.ndim != 3:
            raise AuditError(f"{path}: expected 3 dimensions (n, L, L), or 4 (one (n, L, L) block per --T); "
                             f"got shape {a.shape}")
    if temps is None:
        if kind == "list":
            raise AuditError(f"{path}: a list of arrays carries no temperatures; pass --T")
        temps = [parse_temperature(k) for k, _ in items]
    if len(temps) != len(items):
        raise AuditError(f"{path}: {len(items)} arrays but {len(temps)} temperatures from --T")
    out = []
    for i, ((k, a), T) in enumerate(zip(items, temps)):
        key = str(k) if k is not None else f"[{i}]" if len(items) > 1 else path.name
        where = path.name if key == path.name else f"{path.name}: {key}"
        out.append({"key": key, "T": T, "spins": read_spins(a, binarize, where)})
    return out


# --------------------------------------------------------------------------- the audit
def _widen(tau: float) -> float:
    return math.sqrt(2 * tau) if tau > 0.5 else 1.0


def _z(diff: float, sigma: float) -> float:
    if sigma > 0:
        return diff / sigma
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def audit_ensemble(spins, T: float, *, n_boot: int = N_BOOT, seed: int = 0, key: str = "") -> dict:
    """Audit one ensemble ``spins`` (n, L, L) of ±1 (frames in saved order) at temperature ``T``.

    Returns a dict with the keys of ``COLUMNS`` (errors widened for τ_int, z-scores against
    the exact L×L torus, ``passed``, ``correlated`` and a one-line ``verdict``; see the module doc).
    """
    from ..physics.autocorr import integrated_autocorr_time
    from ..physics.exact import finite_size
    from ..physics.lattice import energy, magnetization
    from ..physics.observables import thermo_stats

    x = read_spins(spins, None, key or "spins")
    T = check_temperature(T, key or "T")
    n, L, _ = x.shape
    N = L * L
    st = thermo_stats(x, T, n_boot=n_boot, seed=seed)
    e_series = energy(x)
    tau_e, rel_e = integrated_autocorr_time(e_series)
    tau_m, rel_m = integrated_autocorr_time(np.abs(magnetization(x)))
    w_e, w_m = _widen(tau_e), _widen(tau_m)
    row: dict = {"key": key, "T": T, "L": L, "n": n}
    for q, w in (("e", w_e), ("C", w_e), ("m_abs", w_m), ("chi", w_m), ("U4", w_m)):
        row[q] = st[q]
        row[q + "_err_boot"] = st[q + "_err"]
        row[q + "_err"] = st[q + "_err"] * w
    e_x, c_x = (float(v) for v in finite_size(L, T))
    row["e_exact"], row["C_exact"] = e_x, c_x
    sigma_e = max(row["e_err"], w_e * math.sqrt(max(c_x, 0.0) * T**2 / N / n))
    row["z_e"] = _z(row["e"] - e_x, sigma_e)
    _, counts = np.unique(e_series, return_counts=True)
    excited = int(n - counts.max())
    row["excited"] = excited
    row["z_C"] = _z(row["C"] - c_x, row["C_err"]) if excited >= MIN_EXCITED else math.nan
    row.update(tau_e=tau_e, tau_m=tau_m, tau_reliable=bool(rel_e and rel_m), widen_e=w_e, widen_m=w_m)
    row["correlated"] = max(tau_e, tau_m) >= TAU_CORRELATED
    bad = [f"{q} deviates by z = {row['z_' + q]:+.1f}" for q in ("e", "C")
           if not (abs(row["z_" + q]) <= Z_PASS or math.isnan(row["z_" + q]))]
    row["passed"] = not bad
    parts = bad or [f"consistent with Boltzmann (|z| ≤ {Z_PASS:g} for e"
                    + (" and C)" if excited >= MIN_EXCITED else ")")]
    if excited < MIN_EXCITED:
        parts.append(f"C not tested: only {excited} frames differ from the most common energy")
    if row["correlated"]:
        parts.append(f"frames correlated (τ_int = {tau_e:.1f} for e, {tau_m:.1f} for |m|): errors widened "
                     f"×{w_e:.1f} and ×{w_m:.1f}")
    if not row["tau_reliable"]:
        parts.append("τ_int uncertain (fewer than 50 τ_int frames): the widened errors may still be too small")
    row["verdict"] = "; ".join(parts)
    return {k: row[k] for k in COLUMNS}


def audit_file(path, temperatures=None, binarize: str | None = None, *, n_boot: int = N_BOOT,
               seed: int = 0) -> list[dict]:
    """:func:`audit_ensemble` of every ensemble in ``path`` (see :func:`load`), sorted by (L, T)."""
    rows = [audit_ensemble(d["spins"], d["T"], n_boot=n_boot, seed=seed, key=d["key"])
            for d in load(path, temperatures, binarize)]
    return sorted(rows, key=lambda r: (r["L"], r["T"]))


# --------------------------------------------------------------------------- output
def write_csv(rows: list[dict], path) -> Path:
    """The rows as CSV with the columns ``COLUMNS`` (floats with 10 significant digits)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([f"{r[c]:.10g}" if isinstance(r[c], float) else r[c] for c in COLUMNS])
    return atomic_write_text(path, buf.getvalue())


def plot(rows: list[dict], path, title: str = "") -> Path:
    """e and C against T with (widened) error bars beside the exact L×L torus curve; saved to ``path``.

    Temperatures that fail the verdict are circled in red.
    """
    from matplotlib.figure import Figure

    from ..physics.exact import finite_size

    fig = Figure(figsize=(9, 3.6), constrained_layout=True)
    axes = fig.subplots(1, 2)
    Ts = np.array([r["T"] for r in rows])
    pad = max(0.1 * (Ts.max() - Ts.min()), 0.25)
    grid = np.linspace(max(Ts.min() - pad, 0.05), Ts.max() + pad, 300)
    for i, L in enumerate(sorted({r["L"] for r in rows})):
        sel = [r for r in rows if r["L"] == L]
        e_x, c_x = finite_size(L, grid)
        color = f"C{i}"
        for ax, q, exact in ((axes[0], "e", e_x), (axes[1], "C", c_x)):
            ax.plot(grid, exact, "-", color=color, lw=1, alpha=0.7, label=f"exact {L}×{L} torus")
            ax.errorbar([r["T"] for r in sel], [r[q] for r in sel], yerr=[r[q + "_err"] for r in sel],
                        fmt="o", ms=4, capsize=2, color=color, label=f"data, L = {L}")
            failed = [r for r in sel if not r["passed"]]
            if failed:
                ax.plot([r["T"] for r in failed], [r[q] for r in failed], "o", ms=11, mfc="none", mec="red",
                        label="fails (|z| > 3)")
    axes[0].set_ylabel("e [J per spin]")
    axes[1].set_ylabel("C [$k_B$ per spin]")
    for ax in axes:
        ax.set_xlabel("T [J/$k_B$]")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))


def _pm(v: float, err: float) -> str:
    """``v ± err`` with the error to 2 significant digits and the value to the same decimal place."""
    if not (math.isfinite(err) and err > 0):
        return f"{v:.4g} ± {err:.2g}"
    d = min(max(0, 1 - math.floor(math.log10(err))), 6)
    return f"{v:.{d}f} ± {err:.{d}f}"


def _z_text(z: float) -> str:
    return "—" if math.isnan(z) else f"{z:+.2f}"


def report(rows: list[dict]) -> str:
    """A table (one line per temperature; errors widened for τ_int) followed by the verdict lines."""
    cols = ("T", "L", "n", "e", "e_exact", "z_e", "C", "C_exact", "z_C", "|m|", "chi", "U4", "tau_e", "tau_m")
    table = [cols]
    for r in rows:
        table.append((f"{r['T']:g}", str(r["L"]), str(r["n"]), _pm(r["e"], r["e_err"]), f"{r['e_exact']:.5f}",
                      _z_text(r["z_e"]), _pm(r["C"], r["C_err"]), f"{r['C_exact']:.4f}", _z_text(r["z_C"]),
                      _pm(r["m_abs"], r["m_abs_err"]), _pm(r["chi"], r["chi_err"]), _pm(r["U4"], r["U4_err"]),
                      f"{r['tau_e']:.2f}", f"{r['tau_m']:.2f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in table]
    lines.append("")
    lines += [f"T = {r['T']:g} (L = {r['L']}, array {r['key']}): {r['verdict']}" for r in rows]
    return "\n".join(lines)


def _json_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, np.generic):
        return v.item()
    return v


# --------------------------------------------------------------------------- command line
def _temperature_arg(text: str) -> float:
    import argparse

    try:
        return check_temperature(text, "--T")
    except AuditError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--T: ")) from None


def add_arguments(p) -> None:
    """The options of ``adsorbstudy audit`` on the argparse parser ``p``."""
    p.add_argument("file", metavar="FILE", help="configurations: .npz (one array per temperature, keyed "
                   "'2.269' or 'T=2.269'), .npy or .pt; each array (n, L, L), frames in saved order")
    p.add_argument("--T", dest="temperatures", nargs="+", type=_temperature_arg, metavar="T",
                   help="temperatures (J/k_B) of the arrays in file order, instead of the npz keys "
                        "(required for .npy; a (k, n, L, L) array takes k)")
    p.add_argument("--binarize", choices=BINARIZE,
                   help="for real values: 'sign' (+1 where x > 0) or 'threshold' (+1 where x ≥ 0.5, values in [0, 1])")
    p.add_argument("--out", metavar="PREFIX",
                   help="write PREFIX.csv and PREFIX.png (default: beside FILE, FILE without its suffix + '.audit')")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout instead of the table")
    p.add_argument("--n-boot", type=int_option(2), default=N_BOOT, metavar="N",
                   help=f"bootstrap resamples per temperature (default {N_BOOT})")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")


def run(args) -> int:
    """Run the audit for parsed ``args``; returns 0 (the exit status does not depend on the verdicts).

    Bad input raises ``AuditError`` (a ValueError; the command line prints it as one line, status 2).
    """
    path = Path(args.file)
    rows = audit_file(path, args.temperatures, args.binarize, n_boot=args.n_boot, seed=args.seed)
    prefix = args.out if args.out else str(path.with_suffix("")) + ".audit"
    csv_path, png_path = Path(prefix + ".csv"), Path(prefix + ".png")
    try:
        write_csv(rows, csv_path)
        plot(rows, png_path, title=f"{path.name}: audit against the exact finite-size torus")
    except OSError as exc:
        raise AuditError(f"cannot write {csv_path} / {png_path}: {_one_line(exc)}") from None
    if args.json:
        out = {"file": str(path), "csv": str(csv_path), "figure": str(png_path), "z_pass": Z_PASS,
               "tau_correlated": TAU_CORRELATED, "all_passed": all(r["passed"] for r in rows),
               "results": [{k: _json_value(v) for k, v in r.items()} for r in rows]}
        print(json.dumps(out, indent=1, ensure_ascii=False))
    else:
        print(report(rows))
        print(f"\nwrote {csv_path} and {png_path}")
    return 0

