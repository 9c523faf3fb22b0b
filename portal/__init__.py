"""The alternative provision commissioning portal: create_app() builds the Flask application."""

from __future__ import annotations

import os

from flask import Flask
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal.config import INSTANCE_DIR, load_config
from portal.forms import INTEGER_RANGE


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.update(load_config(overrides=overrides))
    os.makedirs(app.instance_path, exist_ok=True)
    # Before any route is added: every <int:...> in an address is bounded by what an id column holds.
    app.url_map.converters["int"] = RecordId

    _init_templates(app)
    _init_extensions(app)
    _register_blueprints(app)

    from portal.errors import init_error_pages
    from portal.formatting import init_formatting
    from portal.instrumentation import init_instrumentation
    from portal.request_log import init_app as init_request_log
    from portal.security import init_security_headers
    from portal.submissions import init_submissions

    init_error_pages(app)
    init_formatting(app)
    init_security_headers(app)
    init_instrumentation(app)
    init_submissions(app)
    init_request_log(app)

    from portal.cli import register_cli

    register_cli(app)

    if app.config.get("PROXY_FIX_X_FOR"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1)
    return app


class RecordId(IntegerConverter):
    """<int:...> in an address: at most what an integer column holds (PostgreSQL refuses a larger parameter and
    SQLite overflows, each a 500), so an address with a larger id is a 404 like any other record that is not there."""

    def __init__(self, map, fixed_digits=0, min=None, max=INTEGER_RANGE.stop - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _init_templates(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("portal"),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    # A council service keeps the GOV.UK Frontend look but not the GOV.UK brand.
    app.jinja_env.globals["govukRebrand"] = False

    from govuk_frontend_wtf.main import WTFormsHelpers

    WTFormsHelpers(app)

    from flask_login import current_user

    from portal.navigation import navigation_for

    @app.context_processor
    def inject_layout():
        nav = navigation_for(current_user.role) if current_user.is_authenticated else []
        return {
            "council_name": app.config["COUNCIL_NAME"],
            "service_name": app.config["SERVICE_NAME"],
            "service_navigation": nav,
        }


def _init_extensions(app: Flask) -> None:
    from portal.extensions import csrf, db, htmx, limiter, login_manager, migrate
    from portal.signin import init_login_manager

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    from portal.services import cache

    cache.init_app(app)  # the dashboard's cache: Redis when the rate limits use it

    login_manager.init_app(app)
    init_login_manager(login_manager)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from portal.database import enable_sqlite_pragmas

        with app.app_context():
            enable_sqlite_pragmas(db.engine)


def _register_blueprints(app: Flask) -> None:
    from portal.blueprints import account, auth, manager, notifications, officer, pages, provider

    for module in (pages, auth, account, notifications, officer, provider, manager):
        app.register_blueprint(module.bp)

    from portal.blueprints import directory

    app.register_blueprint(directory.bp)

    from portal.blueprints import documents

    app.register_blueprint(documents.bp)

    from portal.blueprints import placements

    app.register_blueprint(placements.bp)

    from portal.blueprints import slas

    app.register_blueprint(slas.bp)
