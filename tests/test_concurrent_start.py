"""Several servers starting at once on one PostgreSQL schema (a new installation, or a deployment that restarts
them all after an upgrade) each upgrade the schema in their lifespan: they take turns, one applies the pending
migrations, the others find none, and every server starts. Before the turns, the second failed on the first's
tables and its server exited. DuckDB needs no such test: one process owns the file."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from app.db import migrations
from tests.conftest import drop_database, make_database

ROOT = Path(__file__).resolve().parents[1]
MIGRATE = """
import json, sys, time
from app.db import Database
db = Database(sys.argv[1], schema=sys.argv[2])
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))   # every process begins at the same moment
print(json.dumps(db.migrate()))
"""


def test_servers_upgrading_one_schema_at_once_all_start_and_each_migration_runs_once(tmp_path):
    db = make_database("postgresql", tmp_path)
    try:
        start = time.time() + 2
        procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, db.url, db.schema, str(start)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        applied = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            applied.append(json.loads(out.strip().splitlines()[-1]))
        every = [version for version, _name, _path in migrations()]
        assert sorted(applied, key=len) == [[], [], every]     # one process upgraded, the others found it done
        with db.read() as conn:
            recorded = conn.execute(sa.text("SELECT version FROM schema_version ORDER BY version")).scalars().all()
        assert recorded == every
    finally:
        drop_database(db)
