#!/usr/bin/env bash
# Sets up, then renders the demo campaign on embedded defaults (SQLite, local disk, Celery in-process,
# tiny-sd on CPU) and prints where the MP4s are.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash infra/scripts/setup.sh
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py demo
