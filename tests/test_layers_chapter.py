"""The correlated-layers chapter (notebooks/10-correlated-layers.py) on the shared smoke study: its verdict
entry and guidance table hold what its parameters ask for, counted exactly, and its text is the files'."""
import csv
import json

import yaml

from conftest import ROOT


def _params():
    prof = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    return next(r["parameters"] for r in prof["runs"] if r["notebook"] == "10-correlated-layers")


def test_layers_entry_counts_every_pixel_step_and_every_guidance_point(smoke_study):
    p = _params()
    v = json.loads((smoke_study.results / "verdict.json").read_text())
    lay = v["layers"]
    model = json.loads((smoke_study.results / "models" / f"{lay['mean_field']}.json").read_text())
    K, L = model["hparams"]["K"], model["L"]
    bi = lay["bistability"]
    # every layer and pixel of every sampled trajectory at every temperature is one pixel-step
    assert bi["n"] == p["n_bistability"] * len(p["bistability_T"]) * K * L * L
    assert sum(bi["eps_a_za"]["counts"]) == bi["n"]
    for k in ("frac_attractive", "frac_repulsive", "frac_other_root", "frac_nonconverged"):
        assert 0.0 <= bi[k] <= 1.0
    with open(smoke_study.results / "guidance.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted((float(r["T"]), float(r["lambda"])) for r in rows) == sorted(
        (float(T), float(x)) for T in p["guidance_T"] for x in p["lambdas"])
    assert all(int(r["n"]) == p["n_guidance"] and int(r["guide_layers"]) == p["guide_layers"] for r in rows)
    assert [r["lambda"] for r in lay["guidance"]["rows"]] == [float(r["lambda"]) for r in rows]
    for r in rows:  # ESS/n of n weights lies in [1/n, 1]
        assert 1.0 / p["n_guidance"] - 1e-12 <= float(r["ess_n"]) <= 1.0 + 1e-12


def test_chapter_text_quotes_the_files(smoke_study):
    v = json.loads((smoke_study.results / "verdict.json").read_text())
    page = (smoke_study.html / "book" / "generated" / "10-correlated-layers.html").read_text()
    lv = v["layers"]["loss_variance"]
    assert f"a ratio of {lv['ratio']:.2f}" in page
    bi = v["layers"]["bistability"]
    assert f"Over {bi['n']} pixel-steps" in page
    assert "layers-bistability.png" in page and "layers-guidance.png" in page


def test_ksweep_table_has_every_run_and_region_of_the_smoke_sweep(smoke_study):
    p = _params()
    with open(smoke_study.results / "ksweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["model"] for r in rows} == set(p["ksweep_models"])
    for m in p["ksweep_models"]:
        spec = json.loads((smoke_study.results / "models" / f"{m}.json").read_text())
        mine = [r for r in rows if r["model"] == m]
        assert {r["region"] for r in mine} == {"seen", "unseen", "outside"}
        assert all(int(r["K"]) == spec["hparams"]["K"] and r["kind"] == spec["kind"] for r in mine)
        assert all(float(r["abs_de"]) >= 0 and float(r["abs_de_se"]) > 0 for r in mine)
