"""The equations of every process model are the ones recorded before SI inside, to 1e-11 relative.

tests/data/process_equations.json holds, for each process model, the right-hand side and the outputs
that the code before the foundation refactoring (hand-written unit factors, lab units inside)
computed at its default parameters and inputs, at the initial state and at three perturbed states.
SI inside changes only how the values reach the equations, so the same vectors in the declared
units must give the same derivatives and outputs, to round-off. (Integrated results can move by
more than round-off: an adaptive step size or a controller clip flips on a last-bit change, so a
one-ulp change of one parameter moves demo KPIs by 1e-7 to 1e-4; see tests/test_demo_kpis.py.)
"""

import json
from pathlib import Path

import numpy as np
import pytest

from bioprocess_twin import catalogue

RECORDED = json.loads((Path(__file__).with_name("data") / "process_equations.json").read_text())
RTOL = 1e-11


def test_every_process_model_is_recorded():
    assert sorted(RECORDED) == catalogue.names()


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_equations_are_unchanged(name):
    record, model = RECORDED[name], catalogue.get(name).model
    assert [v.name for v in model.states] == record["states"]
    assert [v.name for v in model.outputs] == record["outputs"]
    for k, point in enumerate(record["points"]):
        args = (point["t"], point["x"], point["z"], point["p"], point["u"])
        got = {"ode": np.array(model.dae(*args)[0]).ravel(), "y": np.array(model.output_function(*args)).ravel()}
        for part, values in got.items():
            want = np.array(point[part])
            floor = RTOL * np.max(np.abs(want))  # entries far below the vector's scale: absolute
            bad = np.abs(values - want) > RTOL * np.abs(want) + floor
            assert not bad.any(), (
                f"{name} point {k} {part}: entries {np.flatnonzero(bad)[:5].tolist()} differ, "
                f"e.g. {values[bad][:3]} vs {want[bad][:3]}"
            )
