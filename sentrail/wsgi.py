"""The gunicorn entry point: `gunicorn sentrail.wsgi:app`."""
from sentrail.collector import tune_collector
from sentrail.http.app import create_app

tune_collector()
app = create_app()
