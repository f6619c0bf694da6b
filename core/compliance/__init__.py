"""The compliance guard: may this debtor be contacted on this channel now, and if not,
why (a stable code and a reason in Portuguese) and from when.

Pure rules, testable without a database: `windows` (contact windows by state, narrowed by
the tenant's policy), `holidays` (national and state holidays), the cap arithmetic in
`caps`, and `guard.check_calendar` / `guard.next_allowed`. Rules that read the database:
`guard.check` (lifecycle, holds and prescription through `core.collection.workable`,
opt-outs, the agency-wide caps) and `guard.record_blocked`.
"""
