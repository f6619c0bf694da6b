"""Portfolio intake: a creditor's file becomes debtors, debts and contact points.

The flow, in the order a file meets it:
- `controllers` (API) and `service` (the one entry point for the web, the CLI and the
  demo) accept an upload and enqueue the import job in `tasks`;
- `pipeline` runs the import: `formats/` reads the file (CSV, XLSX, XLS, ODS, XLSB),
  `rules/` matches its columns and validates each row, `load/` writes the valid rows
  into the tenant's tables, set-based, and the reports go to S3.
"""
