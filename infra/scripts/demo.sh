#!/usr/bin/env bash
# Sets up, then renders the demo campaign on embedded defaults (SQLite, local disk, Celery in-process,
# tiny-sd on CPU) and prints where the MP4s are.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash infra/scripts/setup.sh
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py demo
# A member of the demo workspace for the dashboard, with a one-time link to set the password.
link="$(.venv/bin/python manage.py create_member demo demo@example.com --role owner 2>/dev/null | tail -n 1)"
echo
echo "Dashboard: run '.venv/bin/python manage.py runserver', open http://127.0.0.1:8000/ and sign in as"
echo "demo@example.com after setting the password here (the link works once): $link"
