"""The examples in docs/pbe.md run and do what the text says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "pbe.md"


def test_docs_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 3
    env: dict = {}
    for code in blocks[1:]:  # blocks[0] is the import list
        exec(compile(code, str(DOC), "exec"), env)
    sol = env["sol"]
    assert sol.N.shape == (3, env["grid"].n)
    first = env["pb"]
    assert first.aggregation_method == "cell_average"
    # breakage-dominated CT example: d32 falls from ~2.4 um toward a plateau below 1 um
    d32 = sol.stats()["d32 [m]"].to_numpy()
    assert d32[0] > 2e-6 and d32[-1] < 5e-7
    assert np.allclose(sol.moment(1), sol.moment(1)[0], rtol=1e-6)
    assert "d32 [m]" in capsys.readouterr().out
