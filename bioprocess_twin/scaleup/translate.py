"""``translate``: a lab-scale scenario in, the target-scale scenario out, side by side with warnings.

The spec's quantities are in their declared units (rpm, L/min, percent, ...); pint converts them to SI where
they enter the scale-up equations (``spec.si``), and the result rows and scenarios are converted back to
their stated units (rpm, L/min, the units of ``OPERATION_QUANTITIES`` and ``HOMOGENIZER_QUANTITIES``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from ..core.limits import limited
from ..core.parameters import ParameterError
from ..core.units import from_si
from ..correlations import agitation as ag
from .aeration import G, kla_required, size_aeration
from .energy_density import (
    HOMOGENIZER_QUANTITIES,
    describe_homogenizer,
    emulsion_density,
    emulsion_scenario,
    target_chamber_volume,
)
from .limits import HOMOGENIZER_LIMITS, STIRRED_TANK_LIMITS, check_limits
from .spec import HomogenizerCase, ScaleUpSpec, StirredTankCase, parse_scaleup_spec
from .stirred_tank import CRITERIA, scale_operation

TURBULENT_REYNOLDS = 1e4  # the power, kLa and mixing-time correlations assume Re above this
#: units of the agitation and gas flow in the scenarios and the flooding warning
SPEED_UNITS, GAS_FLOW_UNITS = "rpm", "L/min"
#: the quantities whose target/lab ratio tells the story of a scale-up (agitation, shear, mass transfer, mixing
#: for a stirred tank; flow, zone, residence time, dissipation and time for a homogenizer)
RATIO_QUANTITIES = (
    "agitation_rpm",
    "tip_speed",
    "power_per_volume",
    "kla",
    "mixing_time",
    "reynolds",
    "vvm",
    "superficial_gas_velocity",
    "eps_max",
    "kolmogorov_length",
    "flow_rate",
    "chamber_volume",
    "residence_time",
    "dissipation_rate",
    "processing_time",
    "cooling_duty",
    "temperature_rise",
)


@dataclass
class ScaleUpResult:
    """Lab and target side by side: ``rows`` (quantity, label, units, lab, target, ratio[, optimized]),
    ``warnings`` (scale, message, ...), the two scenarios, and for a stirred tank with an oxygen demand
    the NLP-sized target operating point ``design``."""

    kind: str
    title: str
    criterion: str
    basis: str
    rows: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    lab_scenario: dict[str, Any]
    target_scenario: dict[str, Any]
    design: dict[str, Any] | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows).set_index("quantity")

    def row(self, quantity: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["quantity"] == quantity)

    @property
    def ok(self) -> bool:
        return self.design is None or bool(self.design.get("ok"))

    def ratio_rows(self) -> list[dict[str, Any]]:
        """The rows of :data:`RATIO_QUANTITIES` that have a positive target/lab ratio, in table order."""
        return [
            r
            for r in self.rows
            if r["quantity"] in RATIO_QUANTITIES
            and isinstance(r.get("ratio"), float)
            and math.isfinite(r["ratio"])
            and r["ratio"] > 0
        ]


@limited
def translate(spec: ScaleUpSpec | dict) -> ScaleUpResult:
    """Translate the lab scenario of ``spec`` to the target scale (ScaleUpSpecError / ParameterError on bad input)."""
    spec = parse_scaleup_spec(spec)
    limits = spec.limit_values()
    try:
        if spec.kind == "stirred_tank":
            result = _stirred_tank(spec.stirred_tank, limits)
        else:
            result = _homogenizer(spec.homogenizer, limits)
    except ParameterError as exc:  # name the field by its place in the spec
        raise ParameterError([(f if "." in f else f"{spec.kind}.{f}", m) for f, m in exc.errors]) from None
    result.title = spec.title
    result.spec = spec.model_dump(mode="json")
    return result


def _rows(lab: dict, target: dict, quantities: dict, optimized: dict | None = None) -> list[dict[str, Any]]:
    rows = []
    for key, (label, units) in quantities.items():
        a, b = float(lab[key]), float(target[key])
        row = {
            "quantity": key,
            "label": label,
            "units": units,
            "lab": a,
            "target": b,
            "ratio": b / a if a != 0 and math.isfinite(a) and math.isfinite(b) else math.nan,
        }
        if optimized is not None:
            row["optimized"] = float(optimized[key])
        rows.append(row)
    return rows


def _warnings(values: dict, limits: dict, table, labels: dict, scale: str) -> list[dict[str, Any]]:
    return [{"scale": scale, **w.to_dict()} for w in check_limits(values, limits, table, labels, scale)]


def flooding_gas_flow(vessel: ag.Vessel, N: float) -> float:
    """Gas flow (m^3/s) at which a Rushton turbine floods: Fl_G = 30 Fr (D/T)^3.5
    (Nienow, Warmoeskerken, Smith & Konno 1985), Fl_G = Qg/(N D^3), Fr = N^2 D / g."""
    D = vessel.impeller_diameter
    return 30 * N**2 * D / G * vessel.d_over_t**3.5 * N * D**3


def _hydrodynamic_warnings(vessel: ag.Vessel, N: float, Qg: float, op: dict, scale: str) -> list[dict[str, Any]]:
    out = []
    if op["reynolds"] < TURBULENT_REYNOLDS:
        out.append(
            {
                "scale": scale,
                "quantity": "reynolds",
                "value": op["reynolds"],
                "bound": TURBULENT_REYNOLDS,
                "units": "1",
                "limit": "turbulent_reynolds",
                "message": f"{scale}: Re {op['reynolds']:.3g} is below {TURBULENT_REYNOLDS:g}; the turbulent "
                "power, kLa and mixing-time correlations overestimate",
            }
        )
    if vessel.impeller == "rushton" and Qg > 0 and Qg > flooding_gas_flow(vessel, N):
        q, q_f = from_si(Qg, GAS_FLOW_UNITS), from_si(flooding_gas_flow(vessel, N), GAS_FLOW_UNITS)
        out.append(
            {
                "scale": scale,
                "quantity": "gas_flow",
                "value": q,
                "bound": q_f,
                "units": GAS_FLOW_UNITS,
                "limit": "flooding",
                "message": f"{scale}: gas flow {q:.3g} L/min floods the Rushton turbine (limit {q_f:.3g} "
                "L/min; Nienow et al. 1985): raise N or lower the gas flow",
            }
        )
    return out


def _stirred_tank(case: StirredTankCase, limits: dict) -> ScaleUpResult:
    lab, target = case.lab_vessel(), case.target_vessel()
    N_lab, Qg_lab = case.si("agitation"), case.lab_gas_flow()
    rho, mu, corr = case.density, case.viscosity, case.kla_correlation
    N_t, Qg_t = scale_operation(lab, N_lab, Qg_lab, target, case.criterion, case.gas_basis, rho, corr)
    lab_op = ag.describe_operation(lab, N_lab, Qg_lab, rho, mu, corr)
    tgt_op = ag.describe_operation(target, N_t, Qg_t, rho, mu, corr)
    labels = {k: v[0] for k, v in ag.OPERATION_QUANTITIES.items()}
    warnings = []
    for scale, vessel, N, Qg, op in (("lab", lab, N_lab, Qg_lab, lab_op), ("target", target, N_t, Qg_t, tgt_op)):
        warnings += _warnings(op, limits, STIRRED_TANK_LIMITS, labels, scale)
        warnings += _hydrodynamic_warnings(vessel, N, Qg, op, scale)
    design = None
    optimized = None
    if case.oxygen is not None:
        ox = case.oxygen
        k_req = kla_required(ox.our, ox.si("do_setpoint"), ox.c_star_air, ox.oxygen_fraction)
        for scale, op in (("lab", lab_op), ("target", tgt_op)):
            if op["kla"] < k_req:
                warnings.append(
                    {
                        "scale": scale,
                        "quantity": "kla",
                        "value": op["kla"],
                        "bound": k_req,
                        "units": "1/h",
                        "limit": "kla_required",
                        "message": f"{scale}: kLa {op['kla']:.3g} 1/h is below the {k_req:.3g} 1/h needed "
                        f"for OUR {ox.our:g} mmol/L/h at DO {ox.do_setpoint:g} %",
                    }
                )
        sized = size_aeration(
            target,
            k_req,
            rho=rho,
            mu=mu,
            correlation=corr,
            tip_speed_max=limits["tip_speed_max"],
            power_per_volume_max=limits["power_per_volume_max"],
            power_per_volume_min=limits["power_per_volume_min"],
            mixing_time_max=limits["mixing_time_max"],
            vvm_min=ox.vvm_min,
            vvm_max=limits["vvm_max"],
            initial=(N_t, Qg_t),
        )
        design = sized.to_dict()
        if sized.ok:
            optimized = sized.operation
        else:
            warnings.append(
                {
                    "scale": "target",
                    "quantity": "kla",
                    "value": None,
                    "bound": k_req,
                    "units": "1/h",
                    "limit": "aeration_sizing",
                    "message": f"target: {sized.message}",
                }
            )
    rows = _rows(lab_op, tgt_op, ag.OPERATION_QUANTITIES, optimized)
    scenario = {
        "vessel": target.to_dict(),
        "agitation_rpm": from_si(N_t, SPEED_UNITS),
        "gas_flow_L_per_min": from_si(Qg_t, GAS_FLOW_UNITS),
        "vvm": tgt_op["vvm"],
    }
    held, consequence = CRITERIA[case.criterion]
    return ScaleUpResult(
        "stirred_tank",
        "",
        case.criterion,
        f"constant {held}; {consequence}",
        rows,
        warnings,
        {
            "vessel": lab.to_dict(),
            "agitation_rpm": case.agitation,
            "gas_flow_L_per_min": from_si(Qg_lab, GAS_FLOW_UNITS),
            "vvm": lab_op["vvm"],
        },
        scenario,
        design,
    )


def _homogenizer(case: HomogenizerCase, limits: dict) -> ScaleUpResult:
    lab, tgt = case.lab, case.target
    rho_e = emulsion_density(case.oil_fraction, case.rho_c, case.rho_d)
    pressure = tgt.pressure if tgt.pressure is not None else lab.pressure
    passes = tgt.n_passes if tgt.n_passes is not None else lab.n_passes
    T_in = tgt.T_inlet if tgt.T_inlet is not None else lab.T_inlet
    chamber = (
        tgt.chamber_volume
        if tgt.chamber_volume is not None
        else target_chamber_volume(lab.chamber_volume, lab.flow_rate, tgt.flow_rate)
    )
    a = describe_homogenizer(
        lab.pressure,
        lab.n_passes,
        lab.flow_rate,
        lab.batch_volume,
        lab.chamber_volume,
        lab.T_inlet,
        rho_e,
        case.cp,
        rho_c=case.rho_c,
    )
    b = describe_homogenizer(
        pressure, passes, tgt.flow_rate, tgt.batch_volume, chamber, T_in, rho_e, case.cp, rho_c=case.rho_c
    )
    labels = {k: v[0] for k, v in HOMOGENIZER_QUANTITIES.items()}
    mismatch = {"dissipation_mismatch": abs(b["dissipation_rate"] / a["dissipation_rate"] - 1)}
    labels["dissipation_mismatch"] = "relative difference of eps from the lab"
    warnings = _warnings(a, limits, HOMOGENIZER_LIMITS, labels, "lab") + _warnings(
        b | mismatch, limits, HOMOGENIZER_LIMITS, labels, "target"
    )
    if pressure != lab.pressure or passes != lab.n_passes:
        warnings.append(
            {
                "scale": "target",
                "quantity": "energy_density",
                "value": b["energy_density"],
                "bound": a["energy_density"],
                "units": "MJ/m^3",
                "limit": "same_energy_density",
                "message": "target: pressure or passes differ from the lab, so the energy density and the "
                "droplet size differ; run the target scenario through the emulsion model",
            }
        )
    fluid = case.fluid()
    return ScaleUpResult(
        "homogenizer",
        "",
        "energy_density",
        "same pressure (energy density per pass), passes and dissipation rate; the dissipation zone grows with "
        "the flow so that the residence time is kept",
        _rows(a, b, HOMOGENIZER_QUANTITIES),
        warnings,
        emulsion_scenario(
            lab.pressure, lab.n_passes, lab.flow_rate, lab.chamber_volume, lab.T_inlet, lab.cooling, fluid
        ),
        emulsion_scenario(pressure, passes, tgt.flow_rate, chamber, T_in, lab.cooling, fluid),
    )
