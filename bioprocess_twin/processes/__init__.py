"""Kinetic process models, one file each (``core.process.Process``): equations, sources, recipe and KPIs.

The catalogue (``bioprocess_twin.catalogue``) finds every process model here by its ``name``.
"""
