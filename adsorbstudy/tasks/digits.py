"""Seed 000's own task (DESIGN §6): monochrome 8×8 digits generated from a prompt.

Data: ``sklearn.datasets.load_digits`` (1,797 images of 8×8 pixels, intensities 0–16, shipped with
scikit-learn, loaded offline), binarised at half intensity: a pixel of intensity ≥ 8 is occupied
(s = 1, ink), below 8 empty (s = 0). The generators see spins σ = 2s − 1, like the Ising models.
A fixed, seeded, stratified split puts 60 % of each class in train, 20 % in validation (checkpoint
selection) and 20 % in test (every metric).

The prompt is a digit's English name ("zero" … "nine") or numeral ("0" … "9"), case-insensitive,
with leading and trailing whitespace ignored; nothing else is accepted. With ten classes a lookup
table is the honest text encoder: the prompt selects one row of a learned class embedding.

Metrics, each with a bootstrap error over samples (``metrics.bootstrap_err``):

- prompt accuracy: the share of images that a classifier trained on the real binarised training
  split assigns to the prompt's class (its real-test accuracy is the ceiling);
- Fréchet distance between Gaussian fits of that classifier's penultimate-layer features of
  generated and real test images (the real-train vs real-test distance is the floor);
- memorisation: the Hamming distance, in pixels of 64, from each image to its nearest training
  image, and the share of exact copies (distance 0), against the same for real test images;
- diversity: the mean pairwise Hamming distance (fraction of pixels) within each prompt
  (``metrics.hamming``);
- likelihood: the negative ELBO in bits per pixel (``AdsorptionGenerator.nll_bound`` / ln 2)
  against per-pixel Bernoulli-marginal baselines.
"""
from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..physics import observables
from ..physics.lattice import to_occupancy, to_spins
from ..study.seeds import seed_for

SIDE = 8
N_CLASSES = 10
#: a pixel of intensity ≥ THRESHOLD (of MAX_INTENSITY) is ink, s = 1
THRESHOLD = 8
MAX_INTENSITY = 16
PROMPT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPLITS = ("train", "val", "test")
#: the study's image generators (``adsorbstudy.generators.families.build`` kinds, all class-conditional)
IMAGE_KINDS = ("adsorption", "adsorption-nolateral", "adsorption-checkerboard", "ddpm", "gan")


# --------------------------------------------------------------------------- data
def load_binary_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (1797, 8, 8) in {0, 1}, labels int64 (1797,)): the scikit-learn digits, ink = 1
    where the intensity is ≥ 8 of 16."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (np.asarray(d.images) >= THRESHOLD).astype(np.uint8)
    return x, np.asarray(d.target, dtype=np.int64)


def split_indices(labels, seed: int = 0, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> dict[str, np.ndarray]:
    """A stratified split {"train", "val", "test"} → sorted int64 indices into ``labels``.

    Within each class the indices are shuffled by ``np.random.default_rng(seed)`` (classes in
    increasing order); the first round(f_val·n_c) go to validation, the next round(f_test·n_c) to
    test and the rest to train. The three sets are disjoint and cover every index.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be a non-empty 1-D integer array; got shape {y.shape}, dtype {y.dtype}")
    f = tuple(float(v) for v in fractions)
    if len(f) != 3 or min(f) <= 0 or abs(sum(f) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive shares (train, val, test) summing to 1; got {fractions!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer ≥ 0; got {seed!r}")
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {k: [] for k in SPLITS}
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        nv, nt = int(round(f[1] * idx.size)), int(round(f[2] * idx.size))
        out["val"].append(idx[:nv])
        out["test"].append(idx[nv:nv + nt])
        out["train"].append(idx[nv + nt:])
    return {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in out.items()}


def split_csv(split: Mapping[str, np.ndarray], labels) -> str:
    """The split as CSV text: one row per image, ``index`` (into load_digits), ``label``, ``split``."""
    y = np.asarray(labels)
    rows = sorted((int(i), s) for s in SPLITS for i in split[s])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", "label", "split"])
    w.writerows((i, int(y[i]), s) for i, s in rows)
    return buf.getvalue()


def parse_prompt(text: str) -> int:
    """The class (0–9) a prompt names: "zero" … "nine" or "0" … "9".

    Case-insensitive (``str.casefold``), leading and trailing whitespace ignored; anything else
    (other words, inner spaces, "03", "3.0") raises ValueError listing the accepted prompts.
    """
    if not isinstance(text, str):
        raise ValueError(f"prompt must be a string; got {type(text).__name__}")
    t = text.strip().casefold()
    if t in PROMPT_WORDS:
        return PROMPT_WORDS.index(t)
    if len(t) == 1 and t in "0123456789":
        return int(t)
    raise ValueError(f"prompt: unknown prompt {text!r}; accepted prompts (case-insensitive): "
                     f"{', '.join(PROMPT_WORDS)}, or a numeral 0-9")


# --------------------------------------------------------------------------- the judge
class DigitClassifier(nn.Module):
    """A small CNN on binary 8×8 images: conv3×3 (16) → ReLU → conv3×3 stride 2 (32) → ReLU →
    Linear 512 → 64 → ReLU (the features of the Fréchet distance) → Linear 64 → 10."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(32 * 16, 64), nn.ReLU())
        self.head = nn.Linear(64, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _as_images(images) -> torch.Tensor:
    a = np.asarray(images)
    if a.ndim != 3 or a.shape[1:] != (SIDE, SIDE) or not np.isin(a, (0, 1)).all():
        raise ValueError(f"images must be (n, {SIDE}, {SIDE}) occupancies in {{0, 1}}; got shape {a.shape}")
    return torch.as_tensor(a.astype(np.float32))[:, None]


def train_classifier(images, labels, seed: int = 0, steps: int = 300, batch: int = 128, lr: float = 3e-3) -> DigitClassifier:
    """Train the judge on real binarised images (n, 8, 8) {0,1} with labels (n,): AdamW (weight decay
    1e-2), ``steps`` minibatches of ``batch`` drawn with a generator seeded by ``seed``. Deterministic
    on the CPU for a given seed. Returns the classifier in eval mode."""
    x, y = _as_images(images), torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if y.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},); got {tuple(y.shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = DigitClassifier()
    g = torch.Generator().manual_seed(seed_for(seed, "classifier-batches"))
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=1e-2)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=g)
        loss = F.cross_entropy(clf(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return clf.eval()


@torch.no_grad()
def predict(clf: DigitClassifier, images) -> np.ndarray:
    """Predicted classes int64 (n,) of images (n, 8, 8) {0, 1}."""
    return clf(_as_images(images)).argmax(1).numpy()


@torch.no_grad()
def features(clf: DigitClassifier, images) -> np.ndarray:
    """Penultimate-layer features float64 (n, 64) of images (n, 8, 8) {0, 1}."""
    return clf.body(_as_images(images)).to(torch.float64).numpy()


def frechet_distance(fa, fb) -> float:
    """Fréchet distance between Gaussian fits of two feature sets (n_a, d), (n_b, d):
    |μ_a − μ_b|² + Tr(Σ_a + Σ_b − 2 (Σ_a^½ Σ_b Σ_a^½)^½), in squared feature units (≥ 0)."""
    a, b = np.asarray(fa, dtype=np.float64), np.asarray(fb, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(a.shape[0], b.shape[0]) < 2:
        raise ValueError(f"fa and fb must be (n ≥ 2, d) with the same d; got {a.shape} and {b.shape}")
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    ra = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(ra @ cb @ ra), 0, None)).sum()
    return float(max(0.0, ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * cross))


def nearest_hamming(images, reference) -> np.ndarray:
    """For each image (n, 8, 8) {0,1}: the Hamming distance in pixels to its nearest image of ``reference``."""
    a = _as_images(images).view(-1, SIDE * SIDE)
    r = _as_images(reference).view(-1, SIDE * SIDE)
    # |a − r|₁ of binary vectors = |a| + |r| − 2 a·r
    d = a.sum(1, keepdim=True) + r.sum(1)[None, :] - 2 * a @ r.T
    return d.min(1).values.round().to(torch.int64).numpy()


def score_images(images, prompts, clf: DigitClassifier, real_test, train_images, n_boot: int = 100,
                 seed: int = 0) -> dict[str, float]:
    """Every sample metric of images (n, 8, 8) {0,1} generated for ``prompts`` (n,) class labels:

    ``acc`` prompt accuracy; ``fd`` Fréchet distance to ``real_test`` images (classifier features);
    ``nn_hamming`` mean pixels to the nearest of ``train_images``; ``copies`` share at distance 0;
    ``diversity`` mean over prompts of the mean pairwise Hamming distance (fraction of pixels).
    Each with ``*_err``: bootstrap over the images (``n_boot`` replicates; FD resamples both sets),
    diversity's the U-statistic errors of ``metrics.hamming`` combined as sqrt(Σ σ²)/n_prompts.
    """
    x = np.asarray(images)
    y = np.asarray(prompts, dtype=np.int64)
    if y.shape != (x.shape[0],):
        raise ValueError(f"prompts must have shape ({x.shape[0]},); got {y.shape}")
    hit = (predict(clf, x) == y).astype(float)
    fa, fb = features(clf, x), features(clf, real_test)
    nn_d = nearest_hamming(x, train_images).astype(float)
    copy = (nn_d == 0).astype(float)
    div, div_var, n_p = 0.0, 0.0, 0
    for c in np.unique(y):
        sel = x[y == c]
        if sel.shape[0] < 2:
            continue
        m, e = observables.hamming(to_spins(sel), flip_symmetric=False, seed=seed)
        div, div_var, n_p = div + m, div_var + (e if np.isfinite(e) else 0.0) ** 2, n_p + 1
    mean = np.mean
    return {"n": int(x.shape[0]),
            "acc": float(hit.mean()), "acc_err": observables.bootstrap_err(mean, [hit], n_boot, seed),
            "fd": frechet_distance(fa, fb), "fd_err": observables.bootstrap_err(frechet_distance, [fa, fb], n_boot, seed),
            "nn_hamming": float(nn_d.mean()), "nn_hamming_err": observables.bootstrap_err(mean, [nn_d], n_boot, seed),
            "copies": float(copy.mean()), "copies_err": observables.bootstrap_err(mean, [copy], n_boot, seed),
            "diversity": div / n_p if n_p else math.nan,
            "diversity_err": math.sqrt(div_var) / n_p if n_p else math.nan}


def marginal_bits(train_images, images, train_labels=None, labels=None, alpha: float = 0.5) -> np.ndarray:
    """Negative log-likelihood in bits per pixel (n,) of images under independent per-pixel Bernoulli
    marginals fitted on ``train_images`` with add-``alpha`` smoothing, p_i = (k_i + α)/(n + 2α) (a
    corner pixel that is never ink would otherwise cost infinite bits). With labels, the marginals
    are fitted per class and each image is scored under its own class's (the conditional baseline)."""
    tr, x = _as_images(train_images)[:, 0].numpy(), _as_images(images)[:, 0].numpy()
    if (train_labels is None) != (labels is None):
        raise ValueError("give both train_labels and labels, or neither")
    groups = [(np.ones(len(tr), bool), np.ones(len(x), bool))] if labels is None else \
        [(np.asarray(train_labels) == c, np.asarray(labels) == c) for c in np.unique(labels)]
    out = np.full(len(x), np.nan)
    for gt, gx in groups:
        p = (tr[gt].sum(0) + alpha) / (gt.sum() + 2 * alpha)
        ll = x[gx] * np.log2(p) + (1 - x[gx]) * np.log2(1 - p)
        out[gx] = -ll.mean(axis=(1, 2))
    return out


def elbo_bits(model, images, labels, seed: int = 0) -> np.ndarray:
    """The adsorption generator's negative ELBO in bits per pixel (n,) of images (n, 8, 8) {0,1} given
    their labels: ``nll_bound`` (nats per spin, one draw of each layer) / ln 2. An upper bound on
    −log₂ p(image | prompt) per pixel."""
    return model.nll_bound(to_spins(images), np.asarray(labels, dtype=np.int64), seed=seed) / math.log(2)


# --------------------------------------------------------------------------- sampling
def nfe(model, steps: int | None, guidance: float) -> int:
    """Network evaluations per image: the sampler's NFE, doubled when guidance w > 0 (a conditional and
    an unconditional pass per step)."""
    return model.nfe_for(steps) * (2 if guidance else 1)


def sample_prompts(model, prompts, seed: int, steps: int | None = None, guidance: float = 0.0,
                   batch: int = 500) -> tuple[np.ndarray, float]:
    """Images uint8 (n, 8, 8) {0,1} for class labels ``prompts`` (n,), in batches, and the wall time
    of the sampling calls in seconds per 1000 images. Batch j uses seed ``seed + j``."""
    y = np.asarray(prompts, dtype=np.int64)
    parts, secs = [], 0.0
    for j, i in enumerate(range(0, len(y), batch)):
        t0 = time.perf_counter()
        parts.append(model.sample(len(y[i:i + batch]), y[i:i + batch], seed=seed + j, steps=steps,
                                  guidance=guidance).numpy())
        secs += time.perf_counter() - t0
    return to_occupancy(np.concatenate(parts)), 1000 * secs / len(y)


def save_generated(path: Path | str, images, prompts) -> Path:
    """Write generated digits for rescoring, atomically: ``images`` uint8 (n, 8, 8) with 1 = ink, 0 = empty,
    and ``prompts`` int64 (n,) the class each image was asked for (0–9)."""
    from ..study.store import save_npz

    x, y = np.asarray(images), np.asarray(prompts, dtype=np.int64)
    if x.ndim != 3 or x.shape[1:] != (SIDE, SIDE) or len(x) < 1 or y.shape != (len(x),) or not np.isin(x, (0, 1)).all():
        raise ValueError(f"images must be (n ≥ 1, {SIDE}, {SIDE}) in {{0, 1}} with one prompt each; "
                         f"got {x.shape}, prompts {y.shape}")
    if not ((y >= 0) & (y <= 9)).all():
        raise ValueError(f"prompts must be digit classes 0–9; got values from {y.min()} to {y.max()}")
    return save_npz(path, {"images": x.astype(np.uint8), "prompts": y})


def load_generated(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 8, 8), prompts (n,)) as :func:`save_generated` wrote them."""
    from ..study.store import load_npz

    z = load_npz(path)
    return z["images"], z["prompts"]


def balanced_prompts(n_per_class: int) -> np.ndarray:
    """Class labels 0, …, 9 each ``n_per_class`` times, in blocks (int64)."""
    return np.repeat(np.arange(N_CLASSES, dtype=np.int64), n_per_class)


# --------------------------------------------------------------------------- training
def train_image_model(kind: str, hparams: dict, train: dict, data: dict, store, device="cpu",
                      progress: bool = True, key_extra: Mapping[str, Any] | None = None):
    """Train (or reuse) one class-conditional generator of ``kind`` on the digits; returns (model, info).

    ``data``: {"train": (spins int8 (n, 8, 8), labels (n,)), "val": (...)} from the fixed split.
    ``hparams`` go to ``models.build`` (with ``n_classes`` = 10, zero padding); ``train`` is a
    :class:`adsorbstudy.generators.trainconfig.TrainConfig` dict. The final weights are an artifact of ``store``
    keyed by (task, kind, hparams, train, ``key_extra``: e.g. the split seed), reused when intact;
    training checkpoints go beside it and resume an interrupted run. ``info``: seconds, steps,
    best_val, best_step, n_params.
    """
    from ..generators.families import build
    from ..generators.train import _load, _save, discard_stale_checkpoints, fit, TrainConfig
    from ..study.store import params_key

    if kind not in IMAGE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(IMAGE_KINDS)}; got {kind!r}")
    hp = {"n_classes": N_CLASSES, "padding": "zeros"} | dict(hparams)
    cfg = TrainConfig.from_dict(train)
    params = {"task": "digits", "kind": kind, "hparams": hp, "train": dict(train)} | dict(key_extra or {})
    model = build(kind, SIDE, **hp)
    final = store.path("image-models", params, "pt")
    if store.valid(final):
        meta = json.loads(final.with_name(final.name.split(".")[0] + ".meta.json").read_text())
        model.load_state_dict(_load(final)["model"])
        info = meta["train"]
    else:
        tx, ty = data["train"]
        vx, vy = data["val"]
        tens = (torch.as_tensor(np.asarray(tx)).to(torch.int8), torch.as_tensor(np.asarray(ty, dtype=np.int64)),
                torch.as_tensor(np.asarray(vx)).to(torch.int8), torch.as_tensor(np.asarray(vy, dtype=np.int64)))
        from ..study.runtime import seed_everything

        seed_everything(cfg.seed)
        model = build(kind, SIDE, **hp).to(device)
        ckpt_dir = store.root / "checkpoints" / params_key(params)
        discard_stale_checkpoints(store, ckpt_dir)
        hist = fit(model, tens, cfg, ckpt_dir, progress=progress)
        _save(final, {"model": model.state_dict()})
        info = {"seconds": hist["seconds"], "steps": hist["steps"], "best_val": hist["best_val"],
                "best_step": hist["best_step"], "history": {k: hist[k] for k in ("step", "loss", "val_step", "val_loss")}}
        store.commit(final, params, train=info)
    info = dict(info) | {"n_params": model.n_params()}
    return model.to(device).eval(), info


def cached_classifier(store, images, labels, seed: int = 0, steps: int = 300, key_extra: Mapping | None = None):
    """:func:`train_classifier`, its weights an artifact of ``store`` keyed by (seed, steps, ``key_extra``)."""
    from ..generators.train import _load, _save

    params = {"task": "digits-classifier", "seed": seed, "steps": steps, "threshold": THRESHOLD} | dict(key_extra or {})
    path = store.path("image-classifier", params, "pt")
    if store.valid(path):
        clf = DigitClassifier()
        clf.load_state_dict(_load(path)["model"])
        return clf.eval()
    clf = train_classifier(images, labels, seed=seed, steps=steps)
    _save(path, {"model": clf.state_dict()})
    store.commit(path, params)
    return clf


def evaluate(model, prompts, seed: int, steps: int | None, guidance: float, judge: Mapping, n_boot: int = 100) -> tuple[dict, np.ndarray]:
    """Sample ``model`` for ``prompts`` and score the images: (row of :data:`IMAGE_COLUMNS` metrics, images).

    ``judge``: {"clf", "test" (real test images), "train" (real training images)}. The timing follows
    the cost chapter: one warm-up call outside the timed region, then the wall time of the sampling
    calls per 1000 images."""
    model.sample(2, np.asarray(prompts[:2]), seed=0, steps=steps, guidance=guidance)  # warm-up
    imgs, spk = sample_prompts(model, prompts, seed=seed, steps=steps, guidance=guidance)
    row = score_images(imgs, prompts, judge["clf"], judge["test"], judge["train"], n_boot=n_boot, seed=seed)
    return row | {"guidance": guidance, "nfe": nfe(model, steps, guidance), "seconds_per_1000": spk}, imgs


def likelihood_columns(model, test, train, seed: int = 0, n_boot: int = 100) -> dict[str, float]:
    """−ELBO in bits per pixel of ``test`` and ``train`` = (images, labels) with bootstrap errors over images."""
    out = {}
    for name, (x, y) in (("test", test), ("train", train)):
        b = elbo_bits(model, x, y, seed=seed)
        out[f"nll_{name}_bits"] = float(b.mean())
        out[f"nll_{name}_bits_err"] = observables.bootstrap_err(np.mean, [b], n_boot, seed)
    return out


def reference_rows(judge: Mapping, split_data: Mapping, n_boot: int = 100, seed: int = 0) -> list[dict]:
    """The reference rows of ``images.csv`` (kind "reference"):

    - "real-test": real test images scored like a model (accuracy = the classifier's ceiling; FD here
      is real-train vs real-test, the floor; nearest-training-image distances of unseen real digits);
    - "bernoulli-marginal" and "bernoulli-marginal-class": per-pixel Bernoulli marginals fitted on the
      training split, unconditional and per class (likelihood baselines, bits per pixel);
    - "noise": Bernoulli(½) images with balanced prompts (accuracy near chance, a large FD).
    """
    (xt, yt), (xtr, ytr) = split_data["test"], split_data["train"]
    clf = judge["clf"]
    real = score_images(xt, yt, clf, xt, xtr, n_boot=n_boot, seed=seed)
    fb = features(clf, xtr), features(clf, xt)
    real["fd"] = frechet_distance(*fb)
    real["fd_err"] = observables.bootstrap_err(frechet_distance, fb, n_boot, seed)
    rows = [{"model": "real-test", "kind": "reference", **real}]
    for name, lab in (("bernoulli-marginal", False), ("bernoulli-marginal-class", True)):
        row = {"model": name, "kind": "reference"}
        for split, (x, y) in (("test", (xt, yt)), ("train", (xtr, ytr))):
            b = marginal_bits(xtr, x, ytr if lab else None, y if lab else None)
            row[f"nll_{split}_bits"] = float(b.mean())
            row[f"nll_{split}_bits_err"] = observables.bootstrap_err(np.mean, [b], n_boot, seed)
        rows.append(row)
    rng = np.random.default_rng(seed)
    noise = (rng.random(xt.shape) < 0.5).astype(np.uint8)
    rows.append({"model": "noise", "kind": "reference", **score_images(noise, yt, clf, xt, xtr, n_boot=n_boot, seed=seed)})
    return rows


# --------------------------------------------------------------------------- results
IMAGE_COLUMNS = ["model", "kind", "seed", "guidance", "n", "acc", "acc_err", "fd", "fd_err", "nn_hamming",
                 "nn_hamming_err", "copies", "copies_err", "diversity", "diversity_err", "nll_test_bits",
                 "nll_test_bits_err", "nll_train_bits", "nll_train_bits_err", "nfe", "seconds_per_1000",
                 "n_params", "train_seconds"]


def write_images_csv(path: Path | str, rows: Sequence[Mapping[str, Any]], extra: Sequence[str] = ()) -> Path:
    """``results/<profile>/images.csv`` (``IMAGE_COLUMNS`` and ``extra`` columns), atomically; missing values
    are empty."""
    from ..analysis.tables import write_summary_csv

    return write_summary_csv(path, rows, IMAGE_COLUMNS + list(extra))


def read_images_csv(path: Path | str) -> list[dict]:
    """Rows of ``images.csv`` with numbers parsed (empty → nan)."""
    from ..analysis.tables import read_csv

    return read_csv(path, ("model", "kind"))


def seed_summary(rows: Sequence[Mapping], model: str, key: str, guidance: float = 0.0) -> dict[str, float]:
    """Mean over the training seeds of ``key`` for ``model`` at guidance w, the seed spread (standard
    deviation, ddof 1; nan with one seed), the number of seeds, and the mean bootstrap error."""
    v, e = seed_values(rows, model, key, guidance)
    return {"mean": float(v.mean()) if v.size else math.nan,
            "spread": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "seeds": int(v.size), "err": float(np.nanmean(e)) if v.size and np.isfinite(e).any() else math.nan}


#: The digits' declared family (DESIGN §5, as the Ising verdict): one primary claim per decisive pair,
#: prompt accuracy at w = 0 (higher is better), Holm-corrected over the three. The matched DDPM is the
#: cosine DDPM with the adsorption generator's K levels, sampled ancestrally.
DECISIVE_IMAGE_PAIRS = (("adsorption", "adsorption-nolateral"), ("adsorption", "ddpm-matched"),
                        ("adsorption-nolateral", "ddpm-matched"))
PRIMARY_IMAGE_METRIC = "acc"
#: Shown with 95 % Welch intervals and never called "better": the other metric on the decisive pairs, and
#: the labelled variants (seed 004's DDPM-1000 sampled by DDIM-K, the GAN) against the adsorption generator.
SECONDARY_IMAGE_PAIRS = (("adsorption", "ddpm"), ("adsorption", "gan"))
METRIC_NAMES = {"acc": "prompt accuracy", "fd": "Fréchet distance"}


def seed_values(rows: Sequence[Mapping], model: str, key: str, guidance: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per training seed (in seed order), ``key`` of ``model`` at guidance w and its bootstrap error."""
    sel = sorted((r for r in rows if r["model"] == model and abs(r["guidance"] - guidance) < 1e-9
                  and np.isfinite(r[key])), key=lambda r: r["seed"])
    return (np.array([r[key] for r in sel], float), np.array([r.get(f"{key}_err", math.nan) for r in sel], float))


def _image_claim(rows, a: str, b: str, key: str, role: str) -> dict:
    from ..analysis.decision import difference

    (va, ea), (vb, eb) = seed_values(rows, a, key), seed_values(rows, b, key)
    errs = np.isfinite(ea).all() and np.isfinite(eb).all()
    d = difference(va, vb, ea if errs else None, eb if errs else None)
    return {"name": f"{key}: {a} vs {b}", "a": a, "b": b, "metric": key, "role": role,
            "lower_is_better": key != "acc", "difference": d}


def verdict_entries(rows: Sequence[Mapping], alpha: float = 0.05, steps: int | None = None) -> dict:
    """The image verdict for ``verdict.json`` (key "images"), from the rows of ``images.csv``.

    Per model (w = 0): mean ± seed spread of prompt accuracy, Fréchet distance, nearest-neighbour
    Hamming, diversity, test and train −ELBO (bits per pixel, adsorption models), NFE and seconds per
    1000 images; the references (classifier ceiling, real-train vs real-test floor, marginal
    baselines). ``comparisons``: the declared family (:data:`DECISIVE_IMAGE_PAIRS`, prompt accuracy,
    Welch's interval of the difference a − b over the seeds, Holm's correction at ``alpha``; words
    from ``adsorbstudy.analysis.decision.family``), then the secondary comparisons (the Fréchet distance
    of the decisive pairs, both metrics of :data:`SECONDARY_IMAGE_PAIRS`) with 95 % intervals and
    ``outcome`` "secondary". Pairs with a model missing from ``rows`` are left out. ``steps``: the
    optimizer steps every compared model was trained for (recorded as "steps", so that the words say
    at which training budget the verdict holds; the model compared is the checkpoint its selection rule
    picked within that budget, and a GAN's steps are generator steps; None: not stated).
    """
    from ..analysis.decision import family

    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be an integer ≥ 1 (optimizer steps) or None; got {steps!r}")

    keys = ("acc", "fd", "nn_hamming", "copies", "diversity", "nll_test_bits", "nll_train_bits", "nfe",
            "seconds_per_1000")
    ref = {r["model"]: r for r in rows if r["kind"] == "reference"}
    models = list(dict.fromkeys(r["model"] for r in rows if r["kind"] != "reference"))
    out: dict = {"references": {m: {k: r[k] for k in keys + ("acc_err", "fd_err", "nll_test_bits_err")
                                    if np.isfinite(r.get(k, math.nan))} for m, r in ref.items()},
                 "models": {m: {k: seed_summary(rows, m, k) for k in keys} for m in models},
                 "comparisons": [], "steps": steps}
    ws = sorted({r["guidance"] for r in rows if r["kind"] != "reference"})
    out["guidance"] = {m: {f"{w:g}": seed_summary(rows, m, "acc", w)["mean"] for w in ws
                           if seed_summary(rows, m, "acc", w)["seeds"]} for m in models}
    have = lambda a, b: a in out["models"] and b in out["models"]  # noqa: E731
    primary = [_image_claim(rows, a, b, PRIMARY_IMAGE_METRIC, "primary") for a, b in DECISIVE_IMAGE_PAIRS if have(a, b)]
    secondary = [_image_claim(rows, a, b, "fd", "secondary") for a, b in DECISIVE_IMAGE_PAIRS if have(a, b)]
    secondary += [_image_claim(rows, a, b, k, "secondary") for a, b in SECONDARY_IMAGE_PAIRS if have(a, b)
                  for k in ("acc", "fd")]
    decided = family(primary, alpha) if primary else []
    for c in secondary:
        d = c.pop("difference")
        decided.append(c | {k: d[k] for k in ("diff", "p", "low", "high", "n_a", "n_b")} | {"outcome": "secondary"})
    for c in decided:
        c["seeds"] = min(c["n_a"], c["n_b"])
        c.update({k: (None if not np.isfinite(c[k]) else float(c[k])) for k in ("diff", "low", "high", "p")})
        c.update({f"{side}_mean": out["models"][c[side]][c["metric"]]["mean"] for side in ("a", "b")})
    out["comparisons"] = decided
    return out


def verdict_markdown(v: Mapping) -> str:
    """Sentences of the image verdict, rendered from :func:`verdict_entries` (no number typed by hand)."""
    from ..analysis.wording import fmt_interval

    ref = v["references"]
    lines = []
    if "real-test" in ref:
        lines.append(f"The classifier scores real test digits at {ref['real-test']['acc']:.3f} (the ceiling of "
                     f"prompt accuracy; chance is 0.1); real training digits lie at Fréchet distance "
                     f"{ref['real-test']['fd']:.3g} from real test digits (the floor).")
    for c in v["comparisons"]:
        what = METRIC_NAMES[c["metric"]] + (" (higher is better)" if c["metric"] == "acc" else " (lower is better)")
        seeds = f"{c['n_a']} seeds each" if c["n_a"] == c["n_b"] else f"{c['n_a']} and {c['n_b']} seeds"
        if v.get("steps"):
            seeds += f", trained for {v['steps']} optimizer steps"
        if c["role"] == "primary":
            level = (f"Holm-corrected over the declared family of {c['family_size']}, level "
                     f"{1 - c['alpha_step']:.4g}")
            words = c["outcome"]
        else:
            level, words = "95 % interval, secondary: never called better", None
        lines.append(f"**{c['a']} vs {c['b']}**, {what}: {c['a']} {c['a_mean']:.3g}, {c['b']} {c['b_mean']:.3g}; "
                     f"difference {c['a']} − {c['b']} = {fmt_interval(c)} ({level}; {seeds})"
                     + (f": {words}." if words else "."))
    return "\n".join(f"- {s}" for s in lines)
