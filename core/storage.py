"""Object storage: S3 through boto3 is the only path (an embedded server in local mode)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import IO, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from core.settings import Settings

# Multipart transfers hold chunk size x concurrency in memory; keep that modest so an
# import's memory stays bounded whatever the file size.
TRANSFER = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)


class MissingObject(LookupError):
    """The key is not in the bucket (never uploaded, or removed since)."""


class Storage:
    def __init__(self, settings: Settings) -> None:
        if settings.s3_endpoint_url is None and settings.s3_access_key_id is None:
            raise RuntimeError("S3 is not configured (embedded server not started)")
        self.bucket = settings.s3_bucket
        self._settings = settings

    def _client(self, endpoint: str | None) -> Any:
        s = self._settings
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=s.s3_region,
            aws_access_key_id=s.s3_access_key_id,
            aws_secret_access_key=(
                s.s3_secret_access_key.get_secret_value() if s.s3_secret_access_key else None
            ),
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 5, "mode": "standard"}),
        )

    @cached_property
    def client(self) -> Any:
        return self._client(self._settings.s3_endpoint_url)

    @cached_property
    def public_client(self) -> Any:
        """Signs URLs for the host the browser reaches (may differ behind a proxy)."""
        public = self._settings.s3_public_endpoint_url
        return self._client(public) if public else self.client

    def ensure_bucket(self) -> None:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            self.client.create_bucket(Bucket=self.bucket)

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def put(self, key: str, body: bytes | IO[bytes], content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)

    def upload_file(self, key: str, path: str) -> None:
        self.client.upload_file(path, self.bucket, key, Config=TRANSFER)

    def delete(self, key: str) -> None:
        """Remove the object; removing one that is gone already is no error (S3's rule)."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def stream(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        yield from body.iter_chunks(chunk_size)

    def download_file(self, key: str, path: str) -> None:
        try:
            self.client.download_file(self.bucket, key, path, Config=TRANSFER)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise MissingObject(key) from exc
            raise

    def size(self, key: str) -> int:
        return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    # What the browser must send with a presigned upload (signed into the URL).
    UPLOAD_HEADERS = {"If-None-Match": "*"}

    def presigned_upload_url(self, key: str, size: int, expires_in: int = 600) -> str:
        """A URL that PUTs exactly `size` bytes to `key`, once, within `expires_in` seconds.

        The length and `If-None-Match: *` are signed: another length is refused (403), and
        once the object exists the URL can never overwrite it (412), so it dies with its
        first use, and the file it wrote stays as the import read it."""
        url: str = self.public_client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentLength": size,
                                  "IfNoneMatch": "*"}, ExpiresIn=expires_in,
        )
        return url

    def presigned_download_url(self, key: str, filename: str | None = None,
                               expires_in: int = 600) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        url: str = self.public_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in
        )
        return url
