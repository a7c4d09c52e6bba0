"""Near misses: an unknown name that is a typo of a known one (`poll_intervall` for `poll_interval`).

Closeness is the Damerau-Levenshtein distance in its "optimal string alignment" form: an insertion,
a deletion, a substitution or a swap of two neighbouring characters each count as one edit, so
`poll_intreval` is one edit from `poll_interval`. A name is a near miss within two edits of a known
one, or within one edit when the known name has four characters or fewer (`[bot]`), so that short
names of other tools (`[git]`, two edits from `[bot]`) stay unknown rather than "typos". Case is
ignored: `[GitHub]` is a near miss of `[github]` (section names are case-sensitive).
"""

from __future__ import annotations

from typing import Iterable, List


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance between `a` and `b` (swaps of neighbours count as one edit)."""
    before: List[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[len(b)]


def allowed_edits(known: str) -> int:
    """How many edits from `known` still count as a typo of it."""
    return 1 if len(known) <= 4 else 2


def near_misses(name: str, known: Iterable[str]) -> List[str]:
    """The known names closest to `name` within their allowed edits (several on a tie), sorted."""
    lowered = name.lower()
    scored = [(edit_distance(lowered, k.lower()), k) for k in set(known) if k != name]
    close = [(d, k) for d, k in scored if d <= allowed_edits(k)]
    if not close:
        return []
    best = min(d for d, _ in close)
    return sorted(k for d, k in close if d == best)


def did_you_mean(names: List[str], brackets: bool = False) -> str:
    """`did you mean `a`?` or `did you mean `a` or `b`?`; `brackets` writes section names as `[a]`."""
    shown = [f"`[{n}]`" if brackets else f"`{n}`" for n in names]
    return "did you mean " + " or ".join(shown) + "?"
