"""The WSGI entry point: gunicorn in service mode, and `runserver`, which loads it in the process that serves.

In embedded mode this process also runs the beat's periodic work on a thread (core.periodic): a process that
serves requests is the one that must keep renders, schedules and webhook retries moving.
"""

import os

from django.core.wsgi import get_wsgi_application

from core.periodic import periodic_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
application = get_wsgi_application()
periodic_start()  # after the app registry is ready; does nothing with a broker or when switched off
