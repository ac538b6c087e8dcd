"""The server entry: `streamlit run server.py`.

st.App serves the Streamlit router (app/ui/router.py), the routes of app/routes.py, and, in its lifespan, the
process that owns the database: it checks the configuration (refusing production with the default cookie
key), upgrades the schema, and starts the background jobs.
"""
from contextlib import asynccontextmanager

import streamlit as st

from app import jobs
from app.config import load_settings
from app.db import get_database
from app.routes import ROUTES


@asynccontextmanager
async def lifespan(_app):
    settings = load_settings()
    settings.check()
    db = get_database(settings.database_url, schema=settings.database_schema)
    db.migrate()
    runner = jobs.start(db, settings) if settings.background_jobs else None
    try:
        yield {"database": db}
    finally:
        if runner is not None:
            runner.stop()


app = st.App("app/ui/router.py", lifespan=lifespan, routes=ROUTES)
