"""Random streams of the study: one root seed, one independent stream per purpose.

Every random ensemble the book calls independent (the Monte Carlo training and test
ensembles, the G(r) ensembles, the second "MC-independent" ensemble, model samples, ...)
draws from its own stream, spawned from the root seed by *purpose* with numpy's
:class:`~numpy.random.SeedSequence`. Offset arithmetic (``seed + 1``, ``seed + 2``) is not
used: it made one stream serve two purposes (``seed + 2`` was both chapter 3's G(r)
ensembles and chapter 5's independent Monte Carlo ensemble), and a training seed ``s + 1``
was another run's training seed.

A purpose names *what the stream is for*, not where it is used: chapters that must see the
same ensemble (the Monte Carlo test ensembles of chapters 3, 5 and 6) ask for the same
purpose and thus share the cached artifact; distinct purposes never share a stream.
"""
from __future__ import annotations

import hashlib

import numpy as np

#: Registry of purposes: name -> what the stream draws. :func:`seed_for` refuses other names,
#: so a typo cannot silently create a new stream.
PURPOSES: dict[str, str] = {
    # Monte Carlo ensembles (the root is the notebooks' ``seed`` / ``mc_seed`` parameter)
    "mc-train": "Monte Carlo training ensembles (chapter 3; the training chapter reads them)",
    "mc-test": "Monte Carlo test ensembles (chapter 3; the reference of chapters 5 and 6)",
    "mc-correlation": "Monte Carlo ensembles of the G(r) figure near Tc (chapter 3)",
    "mc-fss": "Wolff ensembles at Tc of the finite-size scaling of m² (chapter 3)",
    "mc-tau-scan": "tau_int against T, chains of every sampler (chapter 3)",
    "mc-tau-size": "tau_int against L at Tc, independent replicas (chapter 3)",
    "mc-independent": "the second, independent Monte Carlo ensemble of the fidelity table (chapter 5)",
    "mc-eta": "the Wolff ensemble at Tc of the eta comparison (chapter 5)",
    "mc-cost": "the Monte Carlo row of the cost comparison (chapter 6)",
    "mc-cost-tau": "the tau_int and sweep-time scan of the cost chapter (chapter 6)",
    "mc-relaxation": "Metropolis relaxation from random starts, the reference of the trajectories (chapter 5)",
    "mc-exact-tau": "tau_int at the exact-statistics temperatures the Monte Carlo chapter did not scan (chapter 7)",
    # model randomness (the root is the model's training ``seed``)
    "train-batches": "order of the training mini-batches",
    "train-validation": "the fixed noise of the validation loss",
    "sample-test-grid": "model samples on the test grid (training chapter; read by chapter 5)",
    "sample-snapshots": "model snapshots beside Monte Carlo (training chapter)",
    "sample-eta": "model samples at Tc for G(r) and eta (chapter 5)",
    "sample-trajectory": "model trajectories along the generative steps (chapter 5)",
    "sample-cost": "timed model samples of the cost chapter (chapter 6)",
    "classifier-batches": "mini-batches of the digit classifier that judges generated images (chapter 8)",
    "sample-budget": "samples of the training snapshots for the training-budget curves (training chapter)",
    "sample-exact": "generated samples, IMH chains and hybrid sweeps of the exact-statistics chapter (chapter 7)",
    "verdict-power": "the simulated studies behind the stated power of the decision rule (chapter 5)",
    "layers": "the correlated-layers chapter (chapter 10): frames of the loss variance (extra 0), its loss draws "
              "(extra 1), the bistability trajectories (extra 2), the guidance curve (extra 3)",
    "audit": "the audit chapter's bootstrap resamples (extra 0, 1, 2) and its every-sweep Metropolis chain (extra 3)",
}


def _purpose_code(purpose: str) -> int:
    """A stable 64-bit integer for a purpose name (independent of the registry's order)."""
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "little")


def seed_sequence(root: int, purpose: str, *extra: int) -> np.random.SeedSequence:
    """The :class:`~numpy.random.SeedSequence` of ``purpose`` under ``root``.

    ``root``: integer ≥ 0 (a notebook's ``seed``); ``purpose``: a key of :data:`PURPOSES`;
    ``extra``: further integers ≥ 0 that split one purpose (e.g. a temperature index).
    The entropy is (root, code(purpose), *extra), so streams of different purposes, roots or
    extras are independent in the sense of SeedSequence (no shared offsets)."""
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or root < 0:
        raise ValueError(f"root must be an integer seed >= 0; got {root!r}")
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}; got {purpose!r}")
    for x in extra:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0:
            raise ValueError(f"extra must be integers >= 0; got {extra!r}")
    return np.random.SeedSequence([int(root), _purpose_code(purpose), *map(int, extra)])


def seed_for(root: int, purpose: str, *extra: int) -> int:
    """An integer seed in [0, 2⁶³) for ``purpose`` under ``root`` (see :func:`seed_sequence`).

    An int, because the samplers, ``torch.Generator.manual_seed`` and the artifact keys take
    one; it is the first 63 bits of the purpose's SeedSequence state."""
    return int(seed_sequence(root, purpose, *extra).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
