"""The generators: the adsorption generator (seed 000, DESIGN §3) and the seed-004 baselines.

``build(kind, L, **hparams)`` constructs one by name:

- ``"adsorption"``: Bernoulli adsorption diffusion with lateral coupling (ε_s, ε_a from a U-Net);
- ``"adsorption-nolateral"``: the ε_a ≡ 0 ablation (binomial diffusion);
- ``"adsorption-checkerboard"``: correlated layers, the lateral term acting on sampled neighbours (one
  sublattice drawn from the Eq. 6 solve, the other given it);
- ``"ddpm"``: DDPM, 1000 steps, ε-prediction, same U-Net trunk (``schedule="cosine"``: the matched DDPM
  on the adsorption generator's ᾱ);
- ``"gan"``: conditional WGAN with weight clipping;
- ``"gan-m"``: the same with the magnetization loss ("GAN M⊂L", ``lambda_m`` default 1.0).

Every model has ``sample(n, T, seed=None, steps=None, progress=False)`` → int8 (n, L, L) ±1 on
the CPU, ``nfe`` (network evaluations per sample of the default sampler) and ``nfe_for(steps)``, ``trajectory(n, T, seed, steps=None)``, ``hparams``, ``kind``.
"""
from __future__ import annotations

from .adsorption import AdsorptionGenerator, solve_equilibrium
from .checkerboard import CheckerboardGenerator
from .ddpm import DDPM
from .gan import WGAN

KINDS = ("adsorption", "adsorption-nolateral", "adsorption-checkerboard", "ddpm", "gan", "gan-m")
#: The Bernoulli adsorption generators (the K-layer sampler, the exact trajectory likelihood).
ADSORPTION_KINDS = ("adsorption", "adsorption-nolateral", "adsorption-checkerboard")


def hparams_from(params: dict) -> dict:
    """The constructor arguments ``build(params["model"], L, **hparams)`` takes, from the parameters of a
    training run (the ``04-train`` chapter's names: ``model``, ``K``, ``base``, ``depth``, ``emb_dim``,
    ``n_steps``, ``schedule`` (DDPM; optional, default "linear"), ``ngf``, ``ndf``, ``n_critic``, ``clip``,
    ``heads``, ``lambda_m``, ``grid``).

    Only the arguments of that model family are taken, so a shared profile anchor can carry the others.
    The GAN's critic heads are centred over the training grid's range (J/k_B): every head is centred where
    there is training data.
    """
    kind = params["model"]
    if kind not in KINDS:
        raise ValueError(f"model must be one of {', '.join(KINDS)}; got {kind!r}")
    if kind in ADSORPTION_KINDS:
        return {k: params[k] for k in ("K", "base", "depth", "emb_dim")}
    if kind == "ddpm":
        hp = {k: params[k] for k in ("base", "depth", "emb_dim", "n_steps")}
        # the default schedule stays out of the hparams, so the linear DDPMs keep their checkpoint keys
        schedule = params.get("schedule", "linear")
        return hp if schedule == "linear" else hp | {"schedule": schedule}
    from ..physics.grids import TRAIN_GRIDS

    train_T = TRAIN_GRIDS[params["grid"]]
    hp = {k: params[k] for k in ("ngf", "ndf", "n_critic", "clip", "heads")}
    hp |= {"t_min": min(train_T), "t_max": max(train_T)}
    return hp | ({"lambda_m": params["lambda_m"]} if kind == "gan-m" else {})


def build(kind: str, L: int, /, **hparams):
    """A new (untrained) model of ``kind`` for L×L lattices; ``hparams`` go to its constructor.

    Raises ValueError for an unknown kind, an L the architecture cannot take, or bad hyperparameters.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    hp = dict(hparams)
    if hp.pop("L", L) != L:
        raise ValueError(f"hparams L={hparams['L']!r} contradicts L={L!r}")
    try:
        if kind == "adsorption-checkerboard":
            if hp.pop("lateral", True) is not True:
                raise ValueError(f"lateral contradicts kind {kind!r} (its coupling acts on sampled neighbours)")
            return CheckerboardGenerator(L, **hp)
        if kind in ("adsorption", "adsorption-nolateral"):
            lateral = kind == "adsorption"
            if hp.pop("lateral", lateral) != lateral:
                raise ValueError(f"lateral contradicts kind {kind!r}")
            return AdsorptionGenerator(L, lateral=lateral, **hp)
        if kind == "ddpm":
            return DDPM(L, **hp)
        if kind == "gan":
            if hp.get("lambda_m", 0.0) != 0.0:
                raise ValueError("lambda_m must be 0 for kind 'gan' (use 'gan-m')")
            return WGAN(L, **hp)
        hp.setdefault("lambda_m", 1.0)
        if not hp["lambda_m"] > 0:
            raise ValueError(f"lambda_m must be > 0 for kind 'gan-m'; got {hp['lambda_m']!r}")
        return WGAN(L, **hp)
    except TypeError as exc:
        raise ValueError(f"hyperparameters for kind {kind!r}: {exc}") from None


__all__ = ["KINDS", "ADSORPTION_KINDS", "build", "hparams_from", "AdsorptionGenerator", "CheckerboardGenerator", "DDPM",
           "WGAN", "solve_equilibrium"]
