from setuptools import find_packages, setup

setup(
    name='sentrail',
    version='0.1.0',
    description='A self-hosted, event-sourced server for the Sentry management API and event ingestion.',
    packages=find_packages(include=['sentrail', 'sentrail.*']),
    python_requires='>=3.10',
    install_requires=[
        'falcon>=4.0,<5',
        'eventsourcing>=9.5.6,<9.6',
        'eventsourcing-sqlalchemy>=1.0.1,<1.1',
        'sqlalchemy>=2.0.30,<2.1',
        'gunicorn>=22',
        'psycopg[binary]>=3.1',
        'orjson>=3.9',
        'click>=8.1',
        'rich>=13',
        'brotli>=1.1',
    ],
    extras_require={
        'test': [
            'pytest>=8.3,<9',  # pytest-xdist 3.8 cannot keep --dist loadgroup groups together on pytest 9
            'pytest-xdist>=3.6',
            'requests>=2.31',
            'sentry-sdk>=2.0',
            'raven>=6.10',
            'sentry-cli>=2.58',
            'schemathesis>=4.32,<5',
            'jsonschema-rs>=0.30',
        ],
    },
    entry_points={'console_scripts': ['sentrail=sentrail.cli:main']},
)
