"""Every shipped demo gives the results recorded in tests/data/demo_kpis.json, to 1e-9 relative.

The record was made before the foundation refactoring (layout, registration, packaged data); a
change that moves any demo result beyond round-off fails here. Regenerate it only for a deliberate
model change: ``python tests/demo_kpis.py --write``.
"""
import json

import pytest

from demo_kpis import GOLDEN, demos, run

RECORDED = json.loads(GOLDEN.read_text())
RTOL, ATOL = 1e-9, 1e-12


def test_every_demo_is_recorded():
    assert sorted(RECORDED) == sorted(demos())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECORDED))
def test_demo_results_are_unchanged(name):
    got = run(demos()[name])
    want = RECORDED[name]
    assert sorted(got) == sorted(want), f"{name}: result fields differ"
    changed = {k: (want[k], got[k]) for k in want
               if abs(got[k] - want[k]) > RTOL * max(abs(got[k]), abs(want[k])) + ATOL}
    assert not changed, f"{name}: {len(changed)} values changed, e.g. {list(changed.items())[:5]}"
