"""Payments' HTTP surface: the PSP's PIX notification (public, authenticated by its
signature, as the channels' webhooks are)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.settings import get_settings
from legal import payments


@post("/webhooks/pix", exclude_from_auth=True, exclude_from_csrf=True, include_in_schema=False)
async def pix_webhook(request: Request[Any, Any, Any]) -> Response[Any]:
    """BCB API Pix notification (`POST {webhook}/pix` with `{"pix": [...]}`), signed with
    HMAC-SHA256 in X-Regua-Pix-Signature. Repeats are ignored by endToEndId."""
    body = await request.body()
    try:
        report = await payments.pix_webhook(
            body, request.headers.get(payments.SIGNATURE_HEADER), get_settings())
    except payments.Unauthenticated as exc:
        return Response({"detail": str(exc)}, status_code=403)
    except payments.Malformed as exc:
        return Response({"detail": str(exc)}, status_code=400)
    # 200 also for unknown txids: retrying would not make them known; they are logged.
    return Response(report.as_json(), status_code=200)


handlers = [pix_webhook]
