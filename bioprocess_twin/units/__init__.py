"""Production units, one file each: stream in, streams out, over one batch (``core.streams.UnitOperation``).

Each unit that integrates kinetics names its process model (``bioprocess_twin.processes``) in its
``process`` attribute. The catalogue (``bioprocess_twin.catalogue``) finds every unit here by its ``kind``.
"""
