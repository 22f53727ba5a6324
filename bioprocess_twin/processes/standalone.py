"""Parameter defaults of a standalone process model whose builder also serves a production unit.

A unit such as ``tff`` or ``chromatography`` sets every parameter of the model it builds from its own
values and streams, so the builder's declared defaults never reach its runs. The process model that
runs the same builder standalone (``tff_ufdf``, ``chromatography_lkm``) needs defaults that make a
sensible run; :class:`Declarer` declares the builder's parameters as written, with the defaults of the
named ones replaced (their bounds still checked).
"""

from __future__ import annotations

from dataclasses import replace

from ..core import ModelBuilder
from ..core.parameters import Parameter


class Declarer:
    """``m.parameter`` with the default of each parameter named in ``defaults`` replaced."""

    def __init__(self, m: ModelBuilder, defaults: tuple[tuple[str, float], ...] = ()):
        self.m, self.defaults = m, dict(defaults)
        self.used: set[str] = set()

    def __call__(self, parameter: Parameter):
        if parameter.name in self.defaults:
            parameter = replace(parameter, default=self.defaults[parameter.name])
            self.used.add(parameter.name)
        return self.m.parameter(parameter)

    def check_used(self) -> None:
        """Raise ValueError when ``defaults`` names a parameter that was not declared."""
        unknown = sorted(set(self.defaults) - self.used)
        if unknown:
            raise ValueError(f"defaults for parameters the model does not declare: {', '.join(unknown)}")
