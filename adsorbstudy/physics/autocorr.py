"""The integrated autocorrelation time τ_int of a time series (Sokal's automatic window)."""
from __future__ import annotations

import numpy as np


# --------------------------------------------------------------------------- autocorrelation
def integrated_autocorr_time(x, c: float = 5.0) -> tuple[float, bool]:
    """Integrated autocorrelation time τ_int = ½ + Σ_{t≥1} ρ(t) of a series, in its own time units.

    ``x``: shape (n_times,) or (n_times, n_chains); the normalized autocorrelation is
    averaged over chains (deviations from the global mean), computed by FFT, and the
    sum is truncated with Sokal's self-consistent window M ≥ c τ_int(M).
    Returns (τ_int, reliable) where ``reliable`` means the series is at least 50 τ_int long.
    A constant series (zero variance) has τ_int = 0.5.
    """
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"x must have at least 2 time steps; got {n}")
    d = a - a.mean()
    var = (d**2).mean()
    if var <= 1e-300:
        return 0.5, True
    nfft = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(d, nfft, axis=0)
    acov = np.fft.irfft(f * np.conj(f), nfft, axis=0)[:n].mean(axis=1)
    acov /= np.arange(n, 0, -1)          # unbiased lag normalization
    rho = acov / acov[0]
    taus = 0.5 + np.cumsum(rho[1:])
    for M in range(1, n - 1):
        if M >= c * taus[M - 1]:
            tau = float(max(taus[M - 1], 0.5))
            return tau, n >= 50 * tau
    tau = float(max(taus[-1], 0.5))
    return tau, False
