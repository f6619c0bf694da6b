"""Every response carries the security headers, and no page needs what the content
security policy forbids (inline scripts, event handlers or styles)."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import get_settings

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"


def assert_secured(response, *, docs: bool = False) -> None:
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    if not docs:
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_pages_api_static_files_and_errors_carry_the_headers(client, factory):
    tenant = await factory.tenant()
    for response in (
            await client.get("/"),  # the login page
            await client.get("/inicio", headers=tenant.admin.headers),
            await client.get("/api/v1/portfolios", headers=tenant.admin.headers),
            await client.get("/static/regua.css"),
            await client.get("/nao-existe"),
            await client.get("/api/v1/portfolios"),  # 401
    ):
        assert_secured(response)
    assert_secured(await client.get("/schema/swagger"), docs=True)


async def test_the_upload_may_reach_s3_and_nothing_else(client):
    policy = (await client.get("/")).headers["content-security-policy"]
    s3 = get_settings().s3_endpoint_url
    assert s3 is not None
    origin = "/".join(s3.split("/")[:3])
    assert f"connect-src 'self' {origin};" in policy


def test_no_template_has_inline_script_handler_or_style():
    offenders = []
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"<style\b",
                        r"\sstyle\s*=", r"javascript:"):
            offenders += [f"{template.name}: {m.group()}" for m in re.finditer(pattern, text)]
    assert offenders == []
