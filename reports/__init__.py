"""Per-tenant reporting: the figures a creditor judges the agency by.

Reporting reads every area (collection, cadence, dialer, agreements, payments,
escalations), so it sits above them: `portal -> reports -> {tenants, dialer, legal} ->
core`. Nothing below imports it. The figures are read from aggregate tables kept per
tenant and month (`reports.models`), refreshed from the base tables by a periodic job
for the months that changed (`reports.refresh`); see the README's "Reports" section for
each figure's formula.
"""
