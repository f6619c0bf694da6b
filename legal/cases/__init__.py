"""Judicial handoff and the legal team's queue: cases, their dossiers and exports."""
