"""Themed audits: a theory about practice tested on a qualitative sample, moderated at a workshop
and reported to a pre-scheduled Continuous Improvement Board."""
