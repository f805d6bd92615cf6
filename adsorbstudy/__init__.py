"""adsorbstudy: adsorption-equilibrium generative models judged by Ising thermodynamics.

Modules, one per concept:

- ``isotherm``: Eq. 6 of seed 000, every root, hysteresis, Maxwell construction.
- ``exact``: Onsager, the exact finite-size torus, and exact enumeration.
- ``ising``: Monte Carlo samplers (numba Metropolis on CPU, torch checkerboard Metropolis for GPUs, Wolff) and observables.
- ``metrics``: ensemble statistics with bootstrap error bars.
- ``nn``, ``models``, ``train``: the shared U-Net trunk, the generators, one training loop.
- ``store``: the artifact store (parameter-hashed, atomic, verified).
- ``codeversion``: the versions of the code behind cached artifacts and their registry.
- ``provenance``: the git commit (and dirty flag) the results were made from.
- ``runtime``: device choice, seeding, repository paths.
- ``profile``, ``study``, ``cli``: run profiles, the papermill batch, the command line.
"""

__version__ = "0.1.0"
