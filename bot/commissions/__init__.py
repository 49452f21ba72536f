"""Themed audits, learning visits and the Continuous Improvement Board."""
