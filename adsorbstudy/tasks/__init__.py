"""Tasks beyond the Ising model: ``digits``, images from a prompt (seed 000's own task)."""
