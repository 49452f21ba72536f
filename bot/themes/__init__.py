"""Learning themes: collation, review, posting to channels and forums, the report."""
