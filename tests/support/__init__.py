"""Service-mode test harness: real SeaweedFS, real Celery workers, real PostgreSQL and Redis on loopback.

Plain Python with no Django imports at module level, so worker subprocesses and the harness's own tests can
use it before (or without) Django settings being importable.
"""
