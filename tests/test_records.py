import json

import numpy as np
import pytest
from decay_process import decay_fixture
from sqlalchemy import text

from bioprocess_twin.catalogue import run_spec
from bioprocess_twin.core.spec import parse_spec
from bioprocess_twin.records import RunStore, sha256

records_decay = decay_fixture("records_test_decay", "0.3.1")


def test_saved_run_keeps_spec_version_kpis_and_a_verifiable_hash(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    spec = parse_spec({"model": "records_test_decay", "parameters": {"k": 2.0}, "times": [0, 0.5, 1.0]})
    run = run_spec(spec)
    run_id = store.save_run(spec, run, author="alice")
    listed = store.list_runs()
    assert listed[0]["id"] == run_id and listed[0]["model_version"] == "0.3.1" and listed[0]["author"] == "alice"
    assert listed[0]["kpis"]["x_final"] == pytest.approx(np.exp(-2.0), rel=1e-5)
    full = store.get_run(run_id)
    assert full["spec"]["parameters"] == {"k": 2.0}
    assert full["results_sha256"] == sha256(full["results"])
    assert store.verify(run_id)
    # a record altered behind the store's back no longer verifies
    with store.engine.begin() as conn:
        tampered = json.loads(conn.execute(text("select results_json from run_records")).scalar())
        tampered["kpis"]["x_final"] = 0.5
        conn.execute(text("update run_records set results_json = :r"), {"r": json.dumps(tampered)})
    assert not store.verify(run_id)


def test_author_is_required(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    spec = parse_spec({"model": "records_test_decay", "times": [0, 1]})
    with pytest.raises(ValueError, match="author"):
        store.save_run(spec, run_spec(spec), author=" ")
    assert store.list_runs() == []


def test_non_finite_numbers_are_stored_as_null_and_hash_consistently():
    from bioprocess_twin.records import canonical_json

    assert canonical_json({"b": float("nan"), "a": [1.0, float("inf")]}) == '{"a":[1.0,null],"b":null}'
    assert sha256({"x": float("nan")}) == sha256({"x": None})


def test_runs_can_be_listed_by_model_and_status(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    ok = parse_spec({"model": "records_test_decay", "times": [0, 1]})
    ids = [store.save_run(ok, run_spec(ok), author="alice") for _ in range(2)]
    assert [r["id"] for r in store.list_runs(model="records_test_decay", status="ok")] == ids[::-1]
    assert store.list_runs(model="emulsion_homogenizer") == []
    assert store.list_runs(status="failed") == []
