"""Shared input checks: one helper per kind of input, used by every module."""
import re
from pathlib import Path

import numpy as np
import pytest

from adsorbstudy.physics import ensembles, exact, montecarlo, observables
from adsorbstudy.study.validate import check_int, check_L, check_T, check_temperatures

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "2", None])
def test_temperature_checks_reject_and_name_the_field(bad):
    with pytest.raises(ValueError, match="^Tx must be a finite temperature > 0"):
        check_T(bad, "Tx")
    if not isinstance(bad, (bool, str)) and bad is not None:
        with pytest.raises(ValueError, match="^T must be finite temperatures > 0"):
            check_temperatures([1.0, bad])


def test_temperature_checks_accept_and_convert():
    assert check_T(np.float32(2.5)) == 2.5 and type(check_T(3)) is float
    np.testing.assert_array_equal(check_temperatures([1, 2.5]), [1.0, 2.5])


@pytest.mark.parametrize("L, kw, msg", [(1, {}, r"L must be an integer >= 2; got 1"),
                                         (5, {"hi": 4}, r"L must be an integer \[2, 4\]; got 5"),
                                         (2.0, {}, "L must be an integer"), (True, {}, "L must be an integer"),
                                         (12, {"divisor": 8, "why": "eight"}, "L must be divisible by eight; got L=12")])
def test_lattice_side_check(L, kw, msg):
    with pytest.raises(ValueError, match=msg):
        check_L(L, **kw)
    assert check_L(np.int64(16), divisor=8) == 16 and check_int("n", 3) == 3


def test_every_module_reports_a_bad_temperature_and_side_with_the_one_message():
    # the message comes from validate.py whatever the entry point: catches a module with its own check
    x = np.ones((2, 4, 4), np.int8)
    msgs = []
    for f in (lambda: ensembles.sample_ensemble(4, -1.0, 10), lambda: observables.thermo_stats(x, -1.0),
              lambda: montecarlo.metropolis_relaxation(4, -1.0, 2, 2)):
        with pytest.raises(ValueError) as e:
            f()
        msgs.append(str(e.value))
    assert len(set(msgs)) == 1 and msgs[0].startswith("T must be a finite temperature > 0")
    side = []
    for f in (lambda: ensembles.sample_ensemble(1, 2.0, 10), lambda: exact.log_partition(1, 2.0)):
        with pytest.raises(ValueError) as e:
            f()
        side.append(str(e.value))
    assert side == ["L must be an integer >= 2; got 1"] * 2


def test_no_module_but_validate_words_its_own_temperature_or_side_check():
    pat = re.compile(r"raise ValueError\(f?[\"'](?:L must be an integer|T must be (?:a )?finite)")
    owners = {p.name for p in ROOT.glob("adsorbstudy/**/*.py") if pat.search(p.read_text())}
    assert not owners, owners  # validate.py words it once, with the field name as a parameter
