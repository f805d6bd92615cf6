"""The generative models and their training.

``blocks`` (the shared U-Net trunk, embeddings, the generator base class), ``schedules`` (the
noise schedules, kept apart from the networks: one ᾱ sequence for every diffusion), ``adsorption`` (seed 000's
adsorption generator, mean-field layers), ``checkerboard`` (correlated layers: the lateral term on
sampled neighbours), ``bistability`` (does a trained equilibrium have several roots?), ``ddpm``, ``gan`` (seed 004's baselines), ``families`` (the registry of model
kinds), ``train`` (one training loop with checkpoints), ``ranks`` (the process group as training sees
it), ``distributed`` (torchrun launch of data-parallel training).
"""
