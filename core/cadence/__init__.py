"""The collection cadence (régua): definitions, the daily engine, its actions."""
