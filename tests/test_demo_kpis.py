"""Every shipped demo gives the results recorded in tests/data/demo_kpis.json before the foundation
refactoring (layout, registration, SI inside, packaged data).

Each value must agree to 1e-9 relative, or to 100 times its round-off sensitivity where that is larger.
The sensitivity (tests/data/demo_roundoff.json, measured by tests/demo_roundoff.py on the code before the
refactoring) is how much the value moves when one input changes in its last bit: adaptive step sizes, a DO
controller's clip and a harvest trigger flip on round-off, so the CHO, microbial, liposome and alum demos
and the line downstream of the bioreactor move by 1e-7 to 1e-3 on any reordering of the arithmetic, while
their equations agree to 1e-11 (tests/test_process_equations.py). The emulsion, scale-up and adjuvant-only
demos are held at 1e-9. The factor 100 covers the machine as well: the C library's exp and pow differ in
their last bits from one CPU to another at every right-hand-side evaluation, not only in one input. Measured:
the liposome's free_lipid_fraction moved by 1.2e-6 relative (30 times its 1-ulp sensitivity of 4e-8) between
the machine that recorded it and an AMD EPYC, with the recorded code unchanged. Regenerate the record only for a deliberate model change:
``python tests/demo_kpis.py --write``.
"""

import json

import pytest
from demo_kpis import GOLDEN, demos, run

RECORDED = json.loads(GOLDEN.read_text())
ROUNDOFF = json.loads(GOLDEN.with_name("demo_roundoff.json").read_text())
RTOL, ATOL, MARGIN = 1e-9, 1e-12, 100.0


def allowed(name: str, key: str) -> float:
    return max(RTOL, MARGIN * ROUNDOFF.get(name, {}).get("sensitivity", {}).get(key, 0.0))


def test_every_demo_is_recorded():
    assert sorted(RECORDED) == sorted(demos())
    assert set(ROUNDOFF) <= set(RECORDED)


def test_most_values_are_held_to_1e_9():
    """The round-off allowance is the exception: it covers few of the recorded values."""
    loosened = sum(len(v["sensitivity"]) for v in ROUNDOFF.values())
    assert loosened < 0.1 * sum(len(v) for v in RECORDED.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECORDED))
def test_demo_results_are_unchanged(name):
    got = run(demos()[name])
    want = RECORDED[name]
    missing = sorted(set(want) - set(got))
    assert not missing, f"{name}: recorded result fields missing: {missing[:10]}"
    changed = {
        k: (want[k], got[k], allowed(name, k))
        for k in want
        if abs(got[k] - want[k]) > allowed(name, k) * max(abs(got[k]), abs(want[k])) + ATOL
    }
    assert not changed, (
        f"{name}: {len(changed)} values changed (recorded, now, allowed), e.g. {list(changed.items())[:5]}"
    )
