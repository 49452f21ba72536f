"""Retention: purging records older than the council keeps them."""
