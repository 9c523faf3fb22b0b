"""The bare baseline of the benchmark: Flask, SQLAlchemy and Jinja with one query and one template, on the portal's
database. Its throughput under the same gunicorn settings is the limit of this stack on this machine; bench/run.py
compares each portal page with it.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_s gunicorn --chdir bench/baseline app:app
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, render_template

database_url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
engine = sa.create_engine(database_url, pool_pre_ping=True)

# The 20 most recent offers, joined to nothing: the newest first by primary key, so the index answers it.
RECENT_OFFERS = sa.text(
    "SELECT id, referral_id, provider_id, status, submitted_at, hours_per_week FROM offers ORDER BY id DESC LIMIT 20"
)

app = Flask(__name__)


@app.get("/")
def recent_offers():
    with engine.connect() as conn:
        offers = conn.execute(RECENT_OFFERS).all()
    return render_template("offers.html", offers=offers)
