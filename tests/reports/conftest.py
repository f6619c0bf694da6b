"""A tenant with the hand-computed portfolio (tests/reports/data.py), refreshed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.access import TenantId
from reports.refresh import refresh_tenant
from tests.conftest import TenantFixture
from tests.reports.data import Built, build


@dataclass
class Reported:
    tenant: TenantFixture
    built: Built


@pytest.fixture
async def reported(factory) -> Reported:  # type: ignore[no-untyped-def]
    tenant = await factory.tenant("Credor Relatórios")
    built = await build(tenant.id, seed=abs(hash(tenant.slug)) % 10_000_000)
    await refresh_tenant(TenantId(tenant.id))
    return Reported(tenant, built)
