#!/usr/bin/env bash
# Sets up, then runs the whole test suite.
#   bash infra/scripts/test.sh             embedded mode: SQLite, local disk, tasks in-process
#   bash infra/scripts/test.sh --services  service mode: PostgreSQL, Redis, SeaweedFS S3, real Celery workers
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash infra/scripts/setup.sh

if [ "${1:-}" = "--services" ]; then
  shift
  run_id="$$_$(date +%s)"
  export REELSMITH_TEST_SERVICES=1
  export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/reelsmith_ci_${run_id}}"
  # Redis db 12 (dbs 13-15 belong to the harness self-tests); flushed by the test session before workers start.
  export CELERY_BROKER_URL="${TEST_CELERY_BROKER_URL:-redis://127.0.0.1:6379/12}"
  export AWS_STORAGE_BUCKET_NAME="reelsmith-test"
  # Campaign renders travel on compose shard queues, consumed by the cpu worker (docs/architecture.md).
  export REELSMITH_COMPOSE_SHARDS=2
  export DJANGO_SECRET_KEY="test-only-secret-${run_id}-not-for-production-use-anywhere"
  export DJANGO_SECURE_SSL_REDIRECT=false  # the test client speaks plain http
  # The session fixture starts SeaweedFS and fills in AWS_S3_ENDPOINT_URL and the keys.
fi
exec .venv/bin/pytest "$@"
