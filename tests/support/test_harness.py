"""The service-mode harness against the real services: SeaweedFS S3, a Celery worker on Redis, PostgreSQL.

Opt-in: REELSMITH_TEST_SERVICES=1 .venv/bin/pytest -p no:django tests/support/test_harness.py
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from celery import Celery

from tests.support.postgres import (
    database_exists,
    drop_database,
    flush_redis,
    fresh_database_url,
    redis_url_db,
)
from tests.support.processes import wait_until
from tests.support.seaweed import S3Server, SeaweedStartError, create_bucket, s3_client, seaweedfs_s3
from tests.support.workers import WorkerProcess, WorkerStartError, celery_worker

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        os.environ.get("REELSMITH_TEST_SERVICES") != "1",
        reason="needs the real services; run with REELSMITH_TEST_SERVICES=1",
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ECHO_BROKER_DB = 15
FLUSH_TEST_DB = 14  # not the echo broker's db, so a concurrent run's flush cannot eat a queued message
MIB = 1024 * 1024
# boto3's multipart threshold is 8 MiB; lowering it to 5 MiB (the S3 minimum part size) makes a 9 MiB file two
# parts: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
MULTIPART = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
TASK_TIMEOUT_S = 20.0

# (request_checksum_calculation, ChecksumAlgorithm, checksum field expected on the stored object)
CHECKSUM_MODES = [
    pytest.param("when_supported", None, "ChecksumCRC32", id="when_supported-default-crc32"),
    pytest.param("when_supported", "SHA256", "ChecksumSHA256", id="when_supported-sha256"),
    pytest.param("when_required", None, None, id="when_required-none"),
    pytest.param("when_required", "SHA256", "ChecksumSHA256", id="when_required-sha256"),
]


# --- S3 (SeaweedFS) -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweedfs_s3(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"harness-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_server, name)
    return name


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[Any]:
    client = s3_client(s3_server)
    yield client
    client.close()


def test_put_get_head_round_trip_keeps_bytes_and_content_type(s3: Any, bucket: str) -> None:
    body = b"\x00\x01 not text \xff" * 100

    s3.put_object(Bucket=bucket, Key="renders/r1/video.mp4", Body=body, ContentType="video/mp4")

    head = s3.head_object(Bucket=bucket, Key="renders/r1/video.mp4")
    got = s3.get_object(Bucket=bucket, Key="renders/r1/video.mp4")
    assert head["ContentType"] == "video/mp4"
    assert head["ContentLength"] == len(body)
    assert got["ContentType"] == "video/mp4"
    assert got["Body"].read() == body


@pytest.mark.parametrize(("calculation", "algorithm", "stored_checksum"), CHECKSUM_MODES)
def test_put_object_with_checksum_mode(
    s3_server: S3Server, bucket: str, calculation: str, algorithm: str | None, stored_checksum: str | None
) -> None:
    client = s3_client(
        s3_server, request_checksum_calculation=calculation, response_checksum_validation=calculation
    )
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    try:
        client.put_object(Bucket=bucket, Key="small.bin", Body=b"payload" * 1000, **extra)
        got = client.get_object(Bucket=bucket, Key="small.bin", ChecksumMode="ENABLED")
        assert got["Body"].read() == b"payload" * 1000
    finally:
        client.close()
    if stored_checksum:
        assert stored_checksum in got
    else:
        assert not [field for field in got if field.startswith("Checksum")]


@pytest.mark.parametrize(("calculation", "algorithm", "stored_checksum"), CHECKSUM_MODES)
def test_multipart_upload_with_checksum_mode(
    s3_server: S3Server,
    bucket: str,
    tmp_path: Path,
    calculation: str,
    algorithm: str | None,
    stored_checksum: str | None,
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(9 * MIB))
    client = s3_client(
        s3_server, request_checksum_calculation=calculation, response_checksum_validation=calculation
    )
    extra: dict[str, str] = {"ContentType": "video/mp4"}
    if algorithm:
        extra["ChecksumAlgorithm"] = algorithm
    try:
        client.upload_file(str(source), bucket, "big.mp4", ExtraArgs=extra, Config=MULTIPART)
        head = client.head_object(Bucket=bucket, Key="big.mp4", ChecksumMode="ENABLED")
        downloaded = client.get_object(Bucket=bucket, Key="big.mp4")["Body"].read()
    finally:
        client.close()

    assert head["ETag"].strip('"').endswith("-2"), "expected a two-part multipart upload"
    assert head["ContentType"] == "video/mp4"
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(source.read_bytes()).digest()
    if stored_checksum:
        assert head[stored_checksum].endswith("-2")  # composite checksum over the two parts
        assert head["ChecksumType"] == "COMPOSITE"
    else:
        assert not [field for field in head if field.startswith("Checksum")]


def test_server_rejects_a_body_that_does_not_match_its_checksum(s3: Any, bucket: str) -> None:
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()

    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="corrupt.bin", Body=b"the real body", ChecksumSHA256=wrong)

    assert caught.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="corrupt.bin")


def test_presigned_get_is_served_over_plain_http(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"hello viewer", ContentType="text/plain")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=60
    )

    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own http:// endpoint
        assert response.read() == b"hello viewer"
        assert response.headers["Content-Type"] == "text/plain"

    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(tampered, timeout=10)  # noqa: S310 - our own http:// endpoint
    assert caught.value.code == 403
    caught.value.close()


def test_signatures_are_checked(s3_server: S3Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"secret")
    impostor = s3_client(dataclasses.replace(s3_server, secret_key=s3_server.secret_key + "x"))

    try:
        with pytest.raises(ClientError) as caught:
            impostor.get_object(Bucket=bucket, Key="private.txt")
    finally:
        impostor.close()

    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(f"{s3_server.endpoint_url}/{bucket}/private.txt", timeout=10)  # noqa: S310
    assert anonymous.value.code == 403
    anonymous.value.close()


def test_startup_failure_reports_the_weed_log(tmp_path: Path) -> None:
    # 50 ms is far below the ~1 s mini needs to bring up master, volume, filer and S3 in turn.
    with (
        pytest.raises(SeaweedStartError, match="did not serve S3") as caught,
        seaweedfs_s3(tmp_path, startup_timeout=0.05),
    ):
        pytest.fail("weed mini cannot be serving yet")

    assert "log tail:" in str(caught.value)


# --- Celery worker ------------------------------------------------------------------------------------


@pytest.fixture
def echo_queue() -> str:
    # A queue of our own: a concurrent test run on the same Redis db cannot take our messages.
    return f"harness-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    # Celery prefers the CELERY_BROKER_URL environment variable over `broker=` (celery.app.utils.Settings
    # .broker_url); in service mode that variable names Reelsmith's own broker, so point it at the echo db.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_url_db(ECHO_BROKER_DB))
    app = Celery("harness-producer", broker=redis_url_db(ECHO_BROKER_DB))
    yield app
    app.close()


def _echo_worker(tmp_path: Path, queue: str) -> contextlib.AbstractContextManager[WorkerProcess]:
    return celery_worker(
        app="tests.support.echo_app",
        queues=[queue],
        env={"CELERY_BROKER_URL": redis_url_db(ECHO_BROKER_DB)},
        cwd=REPO_ROOT,
        log_path=tmp_path / "worker.log",
    )


def _run_echo(producer: Celery, queue: str, target: Path, content: str) -> dict[str, Any]:
    producer.send_task("echo.write_file", args=[str(target), content], queue=queue)
    wait_until(target.exists, timeout=TASK_TIMEOUT_S, describe=f"the echo task to write {target}")
    result: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return result


def test_worker_runs_a_task_in_a_pool_child_and_stops_cleanly(
    tmp_path: Path, producer: Celery, echo_queue: str
) -> None:
    with _echo_worker(tmp_path, echo_queue) as worker:
        children = worker.child_pids()
        written = _run_echo(producer, echo_queue, tmp_path / "out.json", "hi")

    assert written["content"] == "hi"
    assert children == [written["pid"]]
    assert not worker.is_alive()
    assert worker.child_pids() == []
    assert "ready." in worker.log_tail()


def test_sigkilled_pool_child_is_replaced_and_the_worker_keeps_working(
    tmp_path: Path, producer: Celery, echo_queue: str
) -> None:
    with _echo_worker(tmp_path, echo_queue) as worker:
        killed = worker.kill_child(signal.SIGKILL)
        wait_until(
            lambda: _has_new_child(worker, killed),
            timeout=TASK_TIMEOUT_S,
            describe="a replacement pool child",
        )
        written = _run_echo(producer, echo_queue, tmp_path / "after-kill.json", "still here")

    assert written["content"] == "still here"
    assert written["pid"] != killed


def test_worker_that_cannot_start_reports_its_log(tmp_path: Path, echo_queue: str) -> None:
    with (
        pytest.raises(WorkerStartError, match="exited with status") as caught,
        celery_worker(
            app="tests.support.no_such_app",
            queues=[echo_queue],
            env={"CELERY_BROKER_URL": redis_url_db(ECHO_BROKER_DB)},
            cwd=REPO_ROOT,
            log_path=tmp_path / "worker.log",
        ),
    ):
        pytest.fail("a worker without an app cannot be ready")

    assert "no_such_app" in str(caught.value)


def _has_new_child(worker: WorkerProcess, killed: int) -> bool:
    children = worker.child_pids()
    return bool(children) and killed not in children


# --- PostgreSQL and Redis -----------------------------------------------------------------------------


def test_fresh_database_is_usable_and_dropped() -> None:
    url = fresh_database_url("harness")
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1)")
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
        # An open session must not block the drop (a SIGKILLed worker leaves those behind).
        with psycopg.connect(url, connect_timeout=5):
            drop_database(url)
    finally:
        drop_database(url)

    assert url.startswith("postgres://postgres@127.0.0.1:5432/harness_")
    assert not database_exists(url)


def test_drop_database_refuses_a_database_it_did_not_create() -> None:
    with pytest.raises(ValueError, match="refusing"):
        drop_database("postgres://postgres@127.0.0.1:5432/postgres")
    with pytest.raises(ValueError, match="non-loopback"):
        drop_database("postgres://postgres@db.example.com:5432/harness_0123456789ab")


def test_flush_redis_empties_only_that_database() -> None:
    key = f"harness:{uuid.uuid4().hex}"
    flushed = redis.Redis.from_url(redis_url_db(FLUSH_TEST_DB), socket_timeout=5)
    kept = redis.Redis.from_url(redis_url_db(FLUSH_TEST_DB - 1), socket_timeout=5)
    try:
        flushed.set(key, "1", ex=60)
        kept.set(key, "1", ex=60)

        flush_redis(redis_url_db(FLUSH_TEST_DB))

        assert flushed.exists(key) == 0
        assert kept.exists(key) == 1
    finally:
        kept.delete(key)
        flushed.close()
        kept.close()
