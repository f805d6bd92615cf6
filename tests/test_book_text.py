"""No hand-typed results in the book's prose pages.

A number with a decimal point in prose (``|m| 0.60``, ``5.2 s``, ``steps of 0.2``) is a result or a
profile fact typed by hand: it goes stale when the code or a profile changes. Such numbers belong
in generated text (``book/generated/``, the executed chapters). Code spans and blocks, and math
(``$...$``, ``$$...$$``, ``{math}`` roles and directives) are not prose: formulas and exact
constants live there. Integers are not checked (equation numbers, "Eq. 6", "2 cores", "seed 004").
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+")
#: Fenced blocks whose content is code or math, not prose (other directives, e.g. {note}, are prose).
NOT_PROSE = re.compile(r"^(?:\{(?:math|code|code-block|code-cell|bibliography)\}|[\w+-]*)\s*$")
#: Explicit exceptions "file:text"; keep empty unless a decimal in prose cannot be avoided, and say why.
ALLOWED: set[str] = set()


def hand_typed_numbers(text: str) -> list[tuple[int, str]]:
    """(line number, number) of every decimal number in the prose of a MyST markdown text."""
    hits = []
    fence = None     # the fence string of an open code/math block, or "" inside a prose directive
    in_math = False  # inside a $$ ... $$ display
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        m = re.match(r"^(`{3,}|~{3,})(.*)$", stripped)
        if fence is not None:
            if m and m.group(1) == fence and not m.group(2).strip():
                fence = None
            continue
        if m and not in_math:
            if NOT_PROSE.match(m.group(2).strip()):
                fence = m.group(1)
            continue  # a prose directive: its fence line holds no prose, its body is scanned
        if re.match(r"^:\w[\w-]*:", stripped):
            continue  # a directive option (":width: 100%")
        # split off display math that opens or closes on this line
        prose, rest = [], line
        while rest:
            if in_math:
                end = rest.find("$$")
                if end < 0:
                    rest = ""
                else:
                    rest, in_math = rest[end + 2:], False
            else:
                start = rest.find("$$")
                if start < 0:
                    prose.append(rest)
                    rest = ""
                else:
                    prose.append(rest[:start])
                    rest, in_math = rest[start + 2:], True
        s = " ".join(prose)
        s = re.sub(r"\{math\}`[^`]*`", " ", s)   # {math}`...` roles
        s = re.sub(r"(`+)(?:(?!\1).)*\1", " ", s)  # code spans and other roles' targets
        s = re.sub(r"(?<!\\)\$(?:[^$\\]|\\.)+\$", " ", s)  # inline math
        s = re.sub(r"https?://\S+", " ", s)       # addresses are not results
        hits += [(n, x) for x in DECIMAL.findall(s)]
    return hits


@pytest.mark.parametrize("text, found", [
    ("The GAN reached |m| 0.60 at T = 3.5.", ["0.60", "3.5"]),
    ("`tol = 1e-4` and ``x = 0.5`` in code, $T_c \\approx 2.269$ in math.", []),
    ("$$\nC = 0.5\n$$\nthen 1.25 outside", ["1.25"]),
    ("a $$x = 1.5$$ b 2.5", ["2.5"]),
    ("```python\nx = 0.1\n```\nafter 4.5", ["4.5"]),
    ("```{math}\n0.25\n```\n", []),
    ("```{note}\nThe loss was 0.31.\n```", ["0.31"]),
    ("{math}`\\eta = 0.25` and {cite:p}`a.b` but 7.0 s", ["7.0"]),
    ("Eq. 6, seed 004, 2 cores, §3 and 10 % are integers", []),
    ("```{figure} x.png\n:width: 0.5\n\ncaption at 0.9\n```", ["0.9"]),
])
def test_the_scanner_finds_prose_numbers_only(text, found):
    # catches a scanner that misses prose after math or code, or that flags code and math
    assert [x for _, x in hand_typed_numbers(text)] == found


def test_the_scanner_reports_the_line():
    assert hand_typed_numbers("one\n\n`x 1.5`\nthe value 2.5\n") == [(4, "2.5")]


def test_no_hand_typed_decimal_numbers_in_the_book_prose():
    pages = sorted((ROOT / "book").glob("*.md"))
    assert pages
    hits = [f"{p.relative_to(ROOT)}:{n}: {x}" for p in pages for n, x in hand_typed_numbers(p.read_text())
            if f"{p.name}:{x}" not in ALLOWED]
    assert not hits, ("numbers typed by hand in the book (generate them from result files, or state the "
                      "fact without the number):\n" + "\n".join(hits))
