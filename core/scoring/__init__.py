"""Segments and the collection score (see the README's "Segments and score")."""
