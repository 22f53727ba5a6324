"""Engineering correlations the process models, units and scale-up share: agitation power, gas transfer, mixing."""
