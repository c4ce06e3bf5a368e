"""The one way fieldreports talks to S3 (AWS, MinIO, R2, Garage): a boto3 client made from
`[storage]`, used for publishing (`episodes.site.storage`) and for the workers' private work
storage (`fieldreports.workers.storage`). boto3 is imported only when it is called.
"""

from __future__ import annotations

from typing import Any

from fieldreports.config import StorageSettings


def make_s3_client(settings: StorageSettings) -> Any:
    """A boto3 S3 client with backoff on throttling and 5xx (botocore "standard" retries)."""
    import boto3
    from botocore.config import Config

    style = settings.addressing_style
    s3_options = {"addressing_style": style} if style else {}
    config = Config(
        max_pool_connections=max(10, settings.workers + 2),
        retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        s3=s3_options,
        # SigV4 everywhere: AWS refuses v2 in newer regions, and presigned URLs need it to expire.
        signature_version="s3v4",
        # Checksums on every request would break some S3 clones (older MinIO, R2).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        region_name=settings.region or None,
        endpoint_url=settings.endpoint_url or None,
        config=config,
    )
