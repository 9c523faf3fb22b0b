"""The WSGI entry point: gunicorn 'wsgi:app'. Also what the flask command loads (--app wsgi)."""

import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    sys.exit(f"portal: configuration error: {error}")
