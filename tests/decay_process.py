"""A registered first-order decay process dx/dt = -k x, for tests that need a tiny runnable model."""
from __future__ import annotations

from bioprocess_twin.core import ModelBuilder
from bioprocess_twin.core.process import Process
from bioprocess_twin.core.registry import register


def register_decay(name: str, version: str, time_units: str = "s", x_units: str = "1",
                   k_bounds: tuple[float, float] = (0, 10)) -> type[Process]:
    """Register (once per name) a process ``name`` at ``version`` with parameter k (1/time) and state x."""
    class Decay(Process):
        description = "first-order decay used by the tests"

        def build(self):
            m = ModelBuilder(self.name, version=version, time_units=time_units)
            k = m.parameter("k", f"1/{time_units}", 1.0, bounds=k_bounds)
            x = m.state("x", x_units, initial=1.0)
            m.ode(x, -k * x)
            return m.build()

        def kpis(self, result, operating):
            return {"x_final": float(result.state("x")[-1])}
    Decay.name = name
    return register(Decay)
