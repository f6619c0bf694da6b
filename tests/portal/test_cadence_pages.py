"""The supervisor's cadence pages: the list, the editor's save (a new version, or the
errors naming the step) and the dry-run; another tenant's cadence is 404, a creditor's
own staff get 403."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.access import transaction
from core.models import CadenceVersion
from tests.core.test_cadence import YAML, debtor, load, system


def csrf(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"x-csrftoken": client.cookies.get("regua_csrf", "")}


async def test_list_editor_save_and_dry_run(factory, client):
    alfa = await factory.tenant("Alfa Cobranças")
    loaded = await load(alfa.id)
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    await debtor(alfa.id, [tomorrow])  # due tomorrow: tomorrow's D0 e-mail and SMS
    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])

    listing = await client.get(f"/cadencias?credor={alfa.id}", headers=supervisor.headers)
    assert listing.status_code == 200 and "Régua padrão" in listing.text

    editor = await client.get(f"/cadencias/{loaded.cadence_id}", headers=supervisor.headers)
    assert editor.status_code == 200 and "versão 1" in editor.text
    assert "só se saldo a partir de R$ 100,00 · UF SP ou RJ" in editor.text
    await client.get("/")
    saved = await client.post(f"/cadencias/{loaded.cadence_id}",
                              data={"source": YAML.replace("day: 5", "day: 6")},
                              headers={**supervisor.headers, **csrf(client)},
                              follow_redirects=False)
    assert saved.status_code in (302, 303)
    assert saved.headers["location"] == f"/cadencias/{loaded.cadence_id}?versao=2"
    async with transaction(system(alfa.id)) as session:
        versions = (await session.execute(select(CadenceVersion.version).where(
            CadenceVersion.cadence_id == loaded.cadence_id))).scalars().all()
    assert sorted(versions) == [1, 2]
    shown = await client.get(saved.headers["location"], headers=supervisor.headers)
    assert "versão 2" in shown.text and "D+6" in shown.text

    wrong = await client.post(f"/cadencias/{loaded.cadence_id}",
                              data={"source": YAML.replace("[email]", "[fax]", 1)},
                              headers={**supervisor.headers, **csrf(client)})
    assert wrong.status_code == 422
    assert "passo 1 (dia -3), campo channels: canal desconhecido &#39;fax&#39;" in wrong.text \
        or "passo 1 (dia -3), campo channels: canal desconhecido 'fax'" in wrong.text

    dry = await client.get(f"/cadencias/simulacao?credor={alfa.id}",
                           headers=supervisor.headers)
    assert dry.status_code == 200
    assert "E-mail" in dry.text or "e-mail" in dry.text


async def test_another_tenant_gets_404_and_creditor_staff_403(factory, client):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    theirs = await load(beta.id)
    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])
    assert (await client.get(f"/cadencias/{theirs.cadence_id}",
                             headers=supervisor.headers)).status_code == 404
    assert (await client.get(f"/cadencias?credor={beta.id}",
                             headers=supervisor.headers)).status_code == 404
    assert (await client.get(f"/cadencias/simulacao?credor={beta.id}",
                             headers=supervisor.headers)).status_code == 404
    await client.get("/")
    posted = await client.post(f"/cadencias/{theirs.cadence_id}", data={"source": YAML},
                               headers={**supervisor.headers, **csrf(client)})
    assert posted.status_code == 404
    async with transaction(system(beta.id)) as session:
        versions = (await session.execute(select(CadenceVersion.version))).scalars().all()
    assert versions == [1]
    # A creditor's own administrator does not get the supervisor's pages.
    for path in (f"/cadencias?credor={alfa.id}", f"/cadencias/{theirs.cadence_id}",
                 "/cadencias/simulacao"):
        assert (await client.get(path, headers=alfa.admin.headers)).status_code == 403
