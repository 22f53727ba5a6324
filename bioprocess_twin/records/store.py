"""Run records on SQLAlchemy (embedded SQLite by default, PostgreSQL through a URL).

Each executed simulation is stored once, with its spec, the model version that ran (a calibrated
set's label such as ``1.0.0+cal.1`` when the spec named one), KPIs, full results and
the SHA-256 of the canonical results JSON. Records are insert-only: there is no update path.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bioprocess_twin.catalogue import run_spec
from bioprocess_twin.core.process import ProcessRun
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.results import json_safe
from bioprocess_twin.core.spec import SimulationSpec, load_spec, simulation_spec_files


def default_url() -> str:
    """``$BIOPROCESS_TWIN_DB`` or an SQLite file ``.bpt/runs.db`` under the working directory."""
    url = os.environ.get("BIOPROCESS_TWIN_DB")
    if url:
        return url
    path = Path.cwd() / ".bpt" / "runs.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def canonical_json(data: Any) -> str:
    """Sorted keys, no spaces, non-finite numbers as null: the text whose SHA-256 is recorded."""
    return json.dumps(json_safe(data), sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


class Base(DeclarativeBase):
    pass


class RunRecord(Base):
    __tablename__ = "run_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200), index=True)
    model_version: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    spec_json: Mapped[str] = mapped_column(Text)
    kpis_json: Mapped[str] = mapped_column(Text)
    results_json: Mapped[str] = mapped_column(Text)
    results_sha256: Mapped[str] = mapped_column(String(64))

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "author": self.author,
            "model": self.model,
            "model_version": self.model_version,
            "status": self.status,
            "kpis": json.loads(self.kpis_json),
            "results_sha256": self.results_sha256,
        }


class RunStore:
    def __init__(self, url: str | None = None):
        self.url = url or default_url()
        self.engine = create_engine(self.url)
        Base.metadata.create_all(self.engine)

    def save_run(self, spec: SimulationSpec, run: ProcessRun, author: str) -> int:
        if not author.strip():
            raise ValueError("author: a run record must name its author")
        results = run.to_dict()
        record = RunRecord(
            created_at=datetime.now(UTC),
            author=author.strip(),
            model=run.result.model.name,
            model_version=run.result.model_version,
            status=run.result.status,
            spec_json=canonical_json(spec.model_dump(mode="json")),
            kpis_json=canonical_json(run.kpis),
            results_json=canonical_json(results),
            results_sha256=sha256(results),
        )
        with Session(self.engine) as session, session.begin():
            session.add(record)
            session.flush()
            return record.id

    def list_runs(self, limit: int = 20, model: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Newest first, optionally only one model's runs and/or one status."""
        query = select(RunRecord).order_by(RunRecord.id.desc()).limit(limit)
        if model is not None:
            query = query.where(RunRecord.model == model)
        if status is not None:
            query = query.where(RunRecord.status == status)
        with Session(self.engine) as session:
            rows = session.scalars(query)
            return [r.summary() for r in rows]

    def get_run(self, run_id: int) -> dict[str, Any]:
        with Session(self.engine) as session:
            r = session.get(RunRecord, run_id)
            if r is None:
                raise KeyError(f"no run record {run_id}")
            return r.summary() | {"spec": json.loads(r.spec_json), "results": json.loads(r.results_json)}

    def verify(self, run_id: int) -> bool:
        """True when the stored results still hash to the recorded SHA-256."""
        with Session(self.engine) as session:
            r = session.get(RunRecord, run_id)
            if r is None:
                raise KeyError(f"no run record {run_id}")
            return sha256(json.loads(r.results_json)) == r.results_sha256

    def seed_demo(self, specs_dir: Path | None = None) -> list[int]:
        """When the store is empty, run and save every shipped example simulation spec (``examples/specs``)."""
        if self.list_runs(limit=1):
            return []
        ids = []
        for path in simulation_spec_files(specs_dir or example_path("specs")):
            spec = load_spec(path)
            run = run_spec(spec)
            ids.append(self.save_run(spec, run, author="demo"))
        return ids
