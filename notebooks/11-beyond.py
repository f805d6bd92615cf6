# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Beyond the default budget
#
# The default build is sized to run on two CPU cores in well under an hour. At that size its U-Nets get
# a small fraction of the paper profile's optimizer steps, so its verdict says which model learns faster
# at that budget, not which model is better. Profiles that take hours (`long`) or a GPU node (`paper`)
# are run once, from a clean tree, and published with `adsorbstudy publish`: their machine-readable
# results, the samples behind them as packed bits, and a manifest with the commit, the code versions, the
# SHA-256 of every file, the run times and the machine. This chapter renders them without training
# anything. The book does not build if a published file differs from its manifest.
#
# A banner under each published profile says whether its results are **current** (every code version
# they were computed with is today's) or **stale** (naming the versions that changed since), and gives
# the commands that reproduce them.

# %% tags=["parameters"]
profile = "smoke"          # str the profile of this build (its verdict is shown beside the published ones)
device = "auto"            # {auto, cpu, cuda}

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

from adsorbstudy.analysis import comparisons, ksweep, plots, wording
from adsorbstudy.analysis.tables import read_csv
from adsorbstudy.study.publish import banner, verify
from adsorbstudy.study.runtime import repo_root, results_dir

figdir = repo_root() / "book" / "generated" / "figures"
figdir.mkdir(parents=True, exist_ok=True)
here = json.loads((results_dir(profile) / "verdict.json").read_text())
published = sorted(d for d in (repo_root() / "published").glob("*/") if d.is_dir() and not d.name.startswith("."))
published = [d for d in published if d.name != profile]  # this build's own profile is shown everywhere else


def primary(v):
    return {(c["a"], c["b"]): c for c in v.get("claims", []) if c.get("role") == "primary"}


def cell(c):
    return "—" if c is None else f"{wording.fmt_interval(c)}: {c['outcome']} ({c['n_a']} and {c['n_b']} seeds)"


if not published:
    display(Markdown(
        "No profile has been published in this checkout yet. To compute and publish the long profile (about two "
        "hours on two cores): `make book PROFILE=long`, then `python -m adsorbstudy publish --profile long`, and "
        "commit `published/long/`."))

# %%
for d in published:
    manifest = verify(d)
    v = json.loads((d / "verdict.json").read_text())
    secs = [r["seconds"] for r in manifest["runs"].values() if r.get("seconds") is not None]
    m = manifest["machine"]
    display(Markdown(f"## The `{d.name}` profile\n\n" + banner(manifest) + "\n\n"
                     f"Computed on {m['cores']} cores ({m['cpu']}, torch {m['torch']}, device {m['device']}); "
                     f"the {len(manifest['runs'])} runs took {sum(secs) / 3600:.1f} h of run time in total "
                     f"({len(secs)} with a recorded time); published {manifest['published']}."))
    # the verdict beside this build's
    mine, theirs = primary(here), primary(v)
    pairs = list(dict.fromkeys([*theirs, *mine]))
    c0 = next(iter(theirs.values()), None)
    lines = [f"Primary claims ({c0['what'] if c0 else 'the declared metric'}, unseen temperatures; difference "
             "first − second with its Holm-corrected interval, negative favours the first):", "",
             f"| pair | this build (`{profile}`) | published (`{d.name}`) |", "|---|---|---|"]
    lines += [f"| {a} vs {b} | {cell(mine.get((a, b)))} | {cell(theirs.get((a, b)))} |" for a, b in pairs]
    display(Markdown("\n".join(lines)))
    # the budget curves to the end of the published training
    b = v.get("budget")
    if b:
        display(Markdown(wording.budget_markdown(b)))
        fig, axes = plt.subplots(1, len(comparisons.BUDGET_METRICS), figsize=(4.4 * len(comparisons.BUDGET_METRICS), 3.6))
        for ax, (key, label) in zip(axes, comparisons.BUDGET_METRICS):
            for arm, curves in b["curves"].items():
                vals = np.array([c[key] for c in curves])
                ax.plot(curves[0]["step"], vals.mean(0), ".-", color=plots.color_of(arm), label=f"{arm} ({len(curves)} seeds)")
                if len(curves) > 1:
                    sd = vals.std(0, ddof=1)
                    ax.fill_between(curves[0]["step"], vals.mean(0) - sd, vals.mean(0) + sd, color=plots.color_of(arm),
                                    alpha=0.2, lw=0)
            ax.set_xscale("log"), ax.set_yscale("log")
            ax.set_xlabel("optimizer steps (log scale)"), ax.set_ylabel(f"{label} (mean over T)")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"Published profile {d.name}: fidelity along training at T = {', '.join(f'{t:g}' for t in b['T'])} "
                     f"({b['n']} samples per T and snapshot; seed means ± seed SD)", fontsize=10)
        display(Image(filename=str(plots.save(fig, figdir / f"beyond-{d.name}-budget.png"))))
    # the K sweep, when that profile ran it
    if (d / "ksweep.csv").exists():
        ks = read_csv(d / "ksweep.csv", ("model", "kind", "region"))
        display(Image(filename=str(ksweep.plot(ks, figdir / f"beyond-{d.name}-ksweep.png",
                                               title=f"Published profile {d.name}: the K sweep"))))
