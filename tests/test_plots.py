"""The spin-snapshot convention shared by every chapter: black σ = −1, white σ = +1."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from adsorbstudy.analysis import plots


def _rgb(im, value):
    return np.asarray(im.cmap(im.norm(value)))[:3]


def test_spin_image_black_is_minus_one_white_is_plus_one():
    fig, ax = plt.subplots()
    try:
        # a configuration that is all +1 except one site: the colours must not depend on the content
        for cfg in (np.ones((4, 4), np.int8), -np.ones((4, 4), np.int8), np.array([[1, -1], [-1, 1]])):
            im = plots.spin_image(ax, cfg)
            np.testing.assert_allclose(_rgb(im, -1), [0, 0, 0])
            np.testing.assert_allclose(_rgb(im, 1), [1, 1, 1])
            assert im.get_interpolation() == "nearest"
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
        assert "black = spin −1" in plots.SPIN_LEGEND and "white = spin +1" in plots.SPIN_LEGEND
    finally:
        plt.close(fig)


def test_snapshots_use_the_same_convention():
    cfg = np.array([[1, -1], [-1, 1]], np.int8)
    fig = plots.snapshots({"MC": {2.0: [cfg]}}, per_cell=1)
    try:
        im = fig.axes[0].images[0]
        np.testing.assert_allclose(_rgb(im, -1), [0, 0, 0])
        np.testing.assert_allclose(_rgb(im, 1), [1, 1, 1])
    finally:
        plt.close(fig)


@pytest.mark.parametrize("bad", [np.ones((2, 3, 3)), np.full((3, 3), 2.0), np.array([[0.0, np.nan]])])
def test_spin_image_rejects_non_spin_input(bad):
    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError, match="config"):
            plots.spin_image(ax, bad)
    finally:
        plt.close(fig)
