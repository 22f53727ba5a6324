"""Physical constants the process models share, in SI (CODATA 2018; the SI defines N_A and k exactly)."""

#: Avogadro constant, 1/mol
N_AVOGADRO = 6.02214076e23
#: Boltzmann constant, J/K
K_BOLTZMANN = 1.380649e-23
#: molar gas constant, J/(mol K), N_A k to 10 significant digits
R_GAS = 8.314462618
