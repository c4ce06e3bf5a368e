"""S3 for tests: moto's standalone server over real HTTP, as production talks to AWS, MinIO or R2.

`moto_server` is a module-scoped fixture: import it into a test module to use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import boto3
import pytest

from tests.support.episodes import free_port

BUCKET = "border-reached"


class Moto:
    """moto's standalone S3 server on a fixed free port, stoppable and restartable."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._cls = ThreadedMotoServer
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> None:
        self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="module")
def moto_server() -> Iterator[Moto]:
    with pytest.MonkeyPatch.context() as mp:
        # Fake credentials through boto3's usual chain; never a real profile.
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.delenv("AWS_PROFILE", raising=False)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        server = Moto()
        server.start()
        boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1").create_bucket(
            Bucket=BUCKET
        )
        yield server
        server.stop()
