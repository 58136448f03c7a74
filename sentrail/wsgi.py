"""The gunicorn entry point: `gunicorn sentrail.wsgi:app`."""
from sentrail.http.app import create_app

app = create_app()
