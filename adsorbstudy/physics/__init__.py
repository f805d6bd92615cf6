"""The physics: seed 000's Eq. 6 and the 2D Ising model with its exact and Monte Carlo references.

``isotherm`` (every root of Eq. 6, hysteresis, Maxwell; kernels in ``eq6_kernels``), ``exact`` (Onsager,
the exact finite-size torus, enumeration), ``lattice`` (energy, magnetisation, spins ↔ occupancy),
``montecarlo`` (Metropolis and Wolff kernels and samplers), ``autocorr`` (τ_int), ``ensembles`` (cached
equilibrium ensembles and τ_int scans), ``grids`` (temperature grids), ``observables`` (ensemble
statistics with bootstrap errors).
"""
