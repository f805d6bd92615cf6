"""adsorbstudy: adsorption-equilibrium generative models judged by Ising thermodynamics.

The package, by layer (each imports only from the layers listed after it):

- ``tasks``: seed 000's own task, digits from a prompt (``digits``).
- ``analysis``: importance reweighting and exact statistics, cost against L, the verdict's comparisons, tables, wording, plots.
- ``generators``: the shared network blocks, the three families (adsorption, DDPM, WGAN), training and data-parallel launch.
- ``physics``: Eq. 6 and its isotherms, exact Ising results, the lattice, Monte Carlo, ensembles, observables.
- ``study``: the runner, profiles, the artifact store, code versions, provenance, seed streams, runtime, validation, the CLI.

A ±1 configuration array is called ``spins`` (shape (n, L, L)), a 0/1 array ``occupancy``; see
``notebooks/CONVENTIONS.md``.
"""

__version__ = "0.1.0"
