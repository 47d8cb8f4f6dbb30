"""Dielectric liquids for single-phase immersion tanks.

Each :class:`Liquid` carries the datasheet numbers it was built from and
evaluates density, kinematic viscosity, Prandtl number and the core's
:class:`~thermo.problem.Fluid` at a film temperature (degC).  The tank solve
uses constant (Boussinesq) properties evaluated at the tank's bulk film
temperature; the temperature dependence enters through that evaluation.

Liquids (keys of :data:`LIQUIDS`, the ``liquid:`` names of a scenario):

``pao4``: a synthetic hydrocarbon, a 4 cSt polyalphaolefin (PAO) base stock of
  the kind single-phase immersion coolants are blended from.
  Kinematic viscosity 19.0 cSt at 40 degC and 4.1 cSt at 100 degC and specific
  gravity 0.820 at 15.6/15.6 degC: ExxonMobil Chemical, *SpectraSyn 4
  polyalphaolefin (PAO) fluid*, product datasheet (typical properties,
  effective 07/2019).  The density is that specific gravity times water at
  15.6 degC (999.0 kg/m^3): 819.2 kg/m^3.  Between and a little beyond those
  two points the viscosity follows the ASTM D341 (Walther) relation
  log10(log10(nu + 0.7)) = A - B log10(T), nu in cSt, T in K, through the two
  datasheet points.  The expansion 7.7e-4 1/K is the API MPMS 11.1 / ASTM D1250
  generalized lubricating-oil value alpha60 = 0.34878 / rho60 (per degF, rho60
  in kg/m^3) at rho60 = 819 kg/m^3; measured PAO 2/4/8 expansivities are
  7.2e-4 to 9.5e-4 1/K at 10 to 40 MPa and 25 to 125 degC (Grandelli et al.,
  Ind. Eng. Chem. Res. 2013), a lower bound for the value at ambient
  pressure.  The datasheet gives neither heat capacity nor conductivity:
  2200 J/(kg K) and 0.14 W/(m K) are generic values for PAO base oils near
  40 degC, not verified against a PAO measurement (a generic petroleum-oil
  correlation, Cragoe 1929 as quoted second-hand, gives 2010 J/(kg K) at
  40 degC, 9 % less); replace them with the coolant's own when known.

``fc40``: a fluorocarbon, 3M Fluorinert Electronic Liquid FC-40.  Density
  1855 kg/m^3, kinematic viscosity 2.2 cSt, heat capacity 1100 J/(kg K),
  conductivity 0.065 W/(m K) and expansion 0.0012 1/K, all at 25 degC: 3M,
  *Fluorinert Electronic Liquid FC-40* product information (typical
  properties).  The 3M sheet itself could not be retrieved when these were
  checked; public property tables for FC-40 agree on density, viscosity
  (4.1 mPa s), heat capacity and conductivity, one disagrees (1052 J/(kg K),
  3.5 mPa s), and none gives a second source for the expansion.
  Only the 25 degC viscosity is used (no second point is quoted), so the
  viscosity is that of 25 degC at any film temperature (real FC-40 is
  thinner when warmer, so nu and Pr are overestimated above 25 degC); the
  density follows the expansion coefficient.

Sources, the values they give and how ours compare:
``validation/reference/dielectric_liquids.csv`` and ``docs/immersion.md``.

All units SI; temperatures degC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .problem import Fluid

CST = 1e-6   # 1 cSt in m^2/s


@dataclass(frozen=True)
class Liquid:
    """A dielectric coolant.

    Attributes:
      key: scenario name (``liquid: pao4``); name: long name; source: where the numbers come from.
      density_ref: density (kg/m^3) at ``density_temperature`` (degC).
      expansion: volumetric thermal expansion coefficient beta (1/K).
      heat_capacity: cp (J/(kg K)); conductivity: k (W/(m K)).
      viscosity_points: ((T1 degC, nu1 cSt), ...): one point (constant viscosity) or two
        (ASTM D341 Walther fit through them).
      valid_range: (low, high) film temperature (degC) over which the fit is trusted.
    """

    key: str
    name: str
    source: str
    density_ref: float
    density_temperature: float
    expansion: float
    heat_capacity: float
    conductivity: float
    viscosity_points: tuple
    valid_range: tuple

    def density(self, temperature: float) -> float:
        """Density (kg/m^3) at ``temperature`` (degC): rho_ref / (1 + beta (T - T_ref))."""
        return self.density_ref / (1.0 + self.expansion * (temperature - self.density_temperature))

    def kinematic_viscosity(self, temperature: float) -> float:
        """Kinematic viscosity (m^2/s) at ``temperature`` (degC)."""
        if len(self.viscosity_points) == 1:
            return self.viscosity_points[0][1] * CST
        a, b = _walther(self.viscosity_points)
        z = 10.0 ** (10.0 ** (a - b * math.log10(temperature + 273.15)))
        return (z - 0.7) * CST

    def diffusivity(self, temperature: float) -> float:
        """Thermal diffusivity k / (rho cp) (m^2/s)."""
        return self.conductivity / (self.density(temperature) * self.heat_capacity)

    def prandtl(self, temperature: float) -> float:
        """Prandtl number nu / alpha (-)."""
        return self.kinematic_viscosity(temperature) / self.diffusivity(temperature)

    def fluid(self, temperature: float, gravity: float = 9.81) -> Fluid:
        """The core's constant-property :class:`Fluid` at film ``temperature`` (degC), gravity along -z."""
        return Fluid(density=self.density(temperature), heat_capacity=self.heat_capacity,
                     viscosity=self.kinematic_viscosity(temperature), prandtl=self.prandtl(temperature),
                     turbulent_prandtl=0.85, expansion=self.expansion, reference_temperature=float(temperature),
                     gravity=np.array([0.0, 0.0, -gravity]))

    def properties(self, temperature: float) -> dict:
        """Every property at ``temperature`` (degC), for summaries and docs."""
        return {"liquid": self.key, "film_temperature_C": float(temperature),
                "density_kgm3": self.density(temperature), "heat_capacity_JkgK": self.heat_capacity,
                "conductivity_WmK": self.conductivity,
                "kinematic_viscosity_m2s": self.kinematic_viscosity(temperature),
                "expansion_1K": self.expansion, "prandtl": self.prandtl(temperature)}


def _walther(points):
    """(A, B) of log10(log10(nu + 0.7)) = A - B log10(T_K) through two (degC, cSt) points."""
    (t1, n1), (t2, n2) = points
    y1, y2 = math.log10(math.log10(n1 + 0.7)), math.log10(math.log10(n2 + 0.7))
    x1, x2 = math.log10(t1 + 273.15), math.log10(t2 + 273.15)
    b = (y1 - y2) / (x2 - x1)
    return y1 + b * x1, b


PAO4 = Liquid(
    key="pao4", name="synthetic hydrocarbon, 4 cSt polyalphaolefin (PAO 4)",
    source="viscosity and specific gravity: ExxonMobil SpectraSyn 4 datasheet; beta: API MPMS 11.1 lubricating "
           "oils; cp, k: generic PAO base-oil values (unverified)",
    # the datasheet gives specific gravity 0.820 (15.6/15.6 degC), not a density: times water at 15.6 degC
    density_ref=0.820 * 999.0, density_temperature=15.6,
    # API MPMS 11.1 lubricating oils, alpha60 = 0.34878 / rho60 per degF = 7.66e-4 1/K; rounded up to 7.7e-4,
    # the density stays within 0.1 % of the standard's from 15 to 50 degC.  Measured PAO 4 values at 10-40 MPa
    # (Grandelli et al. 2013) start at 7.2e-4 and the expansivity grows as the pressure falls.
    expansion=7.7e-4, heat_capacity=2200.0, conductivity=0.14,
    viscosity_points=((40.0, 19.0), (100.0, 4.1)), valid_range=(0.0, 110.0))

FC40 = Liquid(
    key="fc40", name="fluorocarbon, 3M Fluorinert FC-40",
    source="3M Fluorinert Electronic Liquid FC-40 product information, typical properties at 25 degC",
    density_ref=1855.0, density_temperature=25.0, expansion=0.0012, heat_capacity=1100.0, conductivity=0.065,
    viscosity_points=((25.0, 2.2),), valid_range=(-20.0, 80.0))

LIQUIDS = {liquid.key: liquid for liquid in (PAO4, FC40)}


def liquid(key: str) -> Liquid:
    """The liquid named ``key`` (see :data:`LIQUIDS`); KeyError names the known ones."""
    try:
        return LIQUIDS[key]
    except KeyError:
        raise KeyError(f"unknown liquid {key!r}; known: {', '.join(LIQUIDS)}") from None
