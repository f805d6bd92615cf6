"""From samples to the verdict.

``reweight`` (SNIS, IMH, ln Z, the KL bound, the hybrid arm), ``scaling`` (cost against lattice size),
``comparisons`` (errors against Monte Carlo, comparisons over seeds, budget trends, verdict.json),
``decision`` (intervals over seeds, Holm over the declared family, power), ``tables`` (results
CSVs), ``wording`` (the verdict in markdown), ``plots``, ``audit`` (anyone's Ising ensemble against the
exact torus).
"""
