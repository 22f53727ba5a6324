"""Production lines: units joined by streams, batch recipes, Pyomo configuration and scheduling."""
