"""Random streams by purpose: distinct purposes never share a stream, and no code offsets a seed."""
import ast
import hashlib
import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from adsorbstudy.study.seeds import PURPOSES, seed_for, seed_sequence

ROOT = Path(__file__).resolve().parents[1]


def _roots(name: str) -> list[int]:
    """0 (every profile's root) and two roots derived from the test's name, so nobody picked them."""
    h = hashlib.sha256(name.encode()).digest()
    return [0, int.from_bytes(h[:4], "little"), int.from_bytes(h[4:8], "little")]


def test_every_purpose_and_root_gets_its_own_seed():
    # catches offset arithmetic (seed + k for purpose k): then (root, purpose k) and (root + 1, purpose k - 1)
    # coincide, which is how seed + 2 served two chapters
    roots = _roots("test_every_purpose_and_root_gets_its_own_seed")
    roots += [r + 1 for r in roots]
    seeds = {(r, p): seed_for(r, p) for r in roots for p in PURPOSES}
    assert len(set(seeds.values())) == len(seeds)
    assert all(0 <= s < 2**63 for s in seeds.values())


def test_the_streams_of_different_purposes_do_not_overlap():
    # the first draws of each purpose's generator share no 64-bit word with any other purpose's;
    # catches two purposes mapped to one stream, or to one stream shifted by a few draws
    root = _roots("test_the_streams_of_different_purposes_do_not_overlap")[1]
    draws = {p: np.random.default_rng(seed_for(root, p)).integers(0, 2**63, 256, dtype=np.int64) for p in PURPOSES}
    for a, b in itertools.combinations(PURPOSES, 2):
        assert not set(draws[a].tolist()) & set(draws[b].tolist()), (a, b)
    # the extra integers split one purpose into independent streams too
    split = [seed_for(root, "sample-test-grid", i, j) for i in range(4) for j in range(4)]
    assert len(set(split)) == len(split)


def test_a_seed_is_a_pure_function_of_root_and_purpose():
    # reproducibility: the same request gives the same stream, independent of the registry's order
    assert seed_for(3, "mc-test") == seed_for(3, "mc-test")
    ss = seed_sequence(3, "mc-test")
    # the entropy is (root, a hash of the purpose's name): renaming or reordering other purposes changes nothing
    assert ss.entropy == [3, int.from_bytes(hashlib.sha256(b"mc-test").digest()[:8], "little")]
    assert int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) == seed_for(3, "mc-test")


@pytest.mark.parametrize("root, purpose, extra, field", [(-1, "mc-test", (), "root"), (1.5, "mc-test", (), "root"),
                                                          (0, "mc-tset", (), "purpose"), (0, "mc-test", (-2,), "extra")])
def test_bad_requests_name_the_field(root, purpose, extra, field):
    with pytest.raises(ValueError, match=field):
        seed_for(root, purpose, *extra)


def _seed_offsets(tree):
    """Lines of ``<...seed...> ± <int>`` (either order) in a module's code, not its strings or comments."""
    def is_seed(node):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
        return "seed" in name.lower()

    def is_int(node):
        return isinstance(node, ast.Constant) and isinstance(node.value, int)

    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            if (is_seed(node.left) and is_int(node.right)) or (is_int(node.left) and is_seed(node.right)):
                yield node.lineno


def test_the_offset_check_sees_an_offset():
    assert sorted(_seed_offsets(ast.parse("x = f(seed=seed + 2)\ny = 1 + cfg.seed\nz = seed_for(seed, 'a')"))) == [1, 2]


def test_no_code_derives_a_seed_by_offset():
    # a new `seed + 2` in a notebook or the library reuses another purpose's stream: use seeds.seed_for
    hits = []
    for path in sorted([*ROOT.glob("notebooks/*.py"), *ROOT.glob("adsorbstudy/**/*.py")]):
        text = path.read_text()
        lines = text.splitlines()
        hits += [f"{path.relative_to(ROOT)}:{n}: {lines[n - 1].strip()}" for n in _seed_offsets(ast.parse(text))]
    assert not hits, "seed offsets (use adsorbstudy.study.seeds.seed_for):\n" + "\n".join(hits)


def test_every_registered_purpose_is_used_and_every_used_purpose_is_registered():
    used = set()
    for path in [*ROOT.glob("notebooks/*.py"), *ROOT.glob("adsorbstudy/**/*.py")]:
        used |= set(re.findall(r"seed_for\([^,]+,\s*[\"']([\w-]+)[\"']", path.read_text()))
    assert used == set(PURPOSES)
