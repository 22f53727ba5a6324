"""Dash callback requests made by hand, as a hostile client sends them: no browser, any values.

``call(url, "calibration-report.children", {"calibration-spec.value": "/etc/passwd"})`` finds the
callback that writes that output in ``/_dash-dependencies``, sends every input and state with the
given values (None for the others) to ``/_dash-update-component`` and returns the response. A
background callback answers with signed job handles first; :func:`call` then polls for the result
the way the renderer does (with the page's ``end_id``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import requests

CONFIG = re.compile(r'<script id="_dash-config" type="application/json">(.*?)</script>', re.S)
TIMEOUT = 60
POLL = 0.2


def page_config(base_url: str, path: str = "/") -> dict:
    """The ``_dash-config`` the page embeds (its ``end_id`` signs background-callback handles)."""
    html = requests.get(base_url.rstrip("/") + path, timeout=TIMEOUT).text
    return json.loads(CONFIG.search(html).group(1))


def dependencies(base_url: str) -> list[dict]:
    return requests.get(base_url.rstrip("/") + "/_dash-dependencies", timeout=TIMEOUT).json()


def find(deps: list[dict], output: str) -> dict:
    """The one callback whose outputs include ``output`` (``id.property``, without allow_duplicate's suffix)."""
    hits = [c for c in deps if output in c["output"]]
    assert len(hits) == 1, f"{len(hits)} callbacks write {output}"
    return hits[0]


def _outputs(output: str) -> list[dict]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    found = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        found.append({"id": ident, "property": prop.split("@")[0]})
    return found


def body(callback: dict, values: dict[str, Any], changed: list[str] | None = None) -> dict:
    """The request body the renderer would send, with ``values`` by ``id.property``."""

    def items(deps):
        return [d | {"value": values.get(f"{d['id']}.{d['property']}")} for d in deps]

    outputs = _outputs(callback["output"])
    return {
        "output": callback["output"],
        "outputs": outputs if callback["output"].startswith("..") else outputs[0],
        "inputs": items(callback["inputs"]),
        "state": items(callback["state"]),
        "changedPropIds": changed
        if changed is not None
        else [f"{d['id']}.{d['property']}" for d in callback["inputs"]],
    }


def call(base_url: str, output: str, values: dict[str, Any], timeout: float = 240) -> requests.Response:
    """Send the callback that writes ``output`` with ``values``; for a background callback, wait for its result."""
    base_url = base_url.rstrip("/")
    callback = find(dependencies(base_url), output)
    payload = body(callback, values)
    url = base_url + "/_dash-update-component"
    if not callback.get("background"):
        return requests.post(url, json=payload, timeout=TIMEOUT)
    end_id = page_config(base_url)["end_id"]
    first = requests.post(url, params={"endId": end_id}, json=payload, timeout=TIMEOUT)
    first.raise_for_status()
    handles = first.json()
    params = {"endId": end_id, "cacheKey": handles["cacheKey"], "job": handles["job"]}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.post(url, params=params, json=payload, timeout=TIMEOUT)
        if answer.status_code != 200 or "response" in answer.json():
            return answer
        time.sleep(POLL)
    raise TimeoutError(f"the background callback writing {output} gave no result in {timeout} s")


def response(answer: requests.Response) -> dict:
    """The outputs of a callback's answer, ``{id: {property: value}}``."""
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    return answer.json()["response"]


def texts(component) -> str:
    """All the text in a serialised Dash component tree, joined by blanks."""
    if isinstance(component, dict):
        return texts(component.get("props", {}).get("children"))
    if isinstance(component, list):
        return " ".join(texts(c) for c in component)
    return "" if component is None else str(component)
