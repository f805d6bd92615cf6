"""From samples to the verdict.

``reweight`` (SNIS, IMH, ln Z, the KL bound, the hybrid arm), ``scaling`` (cost against lattice size),
``comparisons`` (errors against Monte Carlo, comparisons over seeds, budget trends, verdict.json),
``tables`` (results CSVs), ``wording`` (the verdict in markdown), ``plots``.
"""
