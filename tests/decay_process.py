"""A registered first-order decay process dx/dt = -k x, for tests that need a tiny runnable model."""

from __future__ import annotations

import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.catalogue import register
from bioprocess_twin.core import ModelBuilder, Parameter
from bioprocess_twin.core.process import Process


def register_decay(
    name: str, version: str, time_units: str = "s", x_units: str = "1", k_bounds: tuple[float, float] = (0, 10)
) -> type[Process]:
    """Register (once per name) a process ``name`` at ``version`` with parameter k (1/time) and state x."""

    class Decay(Process):
        description = "first-order decay used by the tests"

        def build(self):
            m = ModelBuilder(self.name, version=version, time_units=time_units)
            k = m.parameter(Parameter(name="k", units=f"1/{time_units}", default=1.0, bounds=k_bounds))
            x = m.state("x", x_units, initial=1.0)
            m.ode(x, -k * x)
            return m.build()

        def kpis(self, result, operating):
            return {"x_final": float(result.state("x")[-1])}

    Decay.name = name
    return register(Decay)


def decay_fixture(name: str, version: str, **kw):
    """A module-scoped autouse fixture that registers the decay process for the module's tests only,
    so other test modules see just the shipped models in the catalogue."""

    @pytest.fixture(autouse=True, scope="module")
    def registered():
        cls = register_decay(name, version, **kw)
        yield cls
        catalogue.unregister(name)

    return registered
