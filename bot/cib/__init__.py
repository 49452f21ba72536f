"""The Continuous Improvement Board: meetings, the items queued for them, the digest and decisions.

Themed audits and learning visits end here (they import this package to queue their outcome), so
the few pieces all three share live here too: the modal-metadata base, the date parser, the
Block Kit helpers and the free-text check for what goes to the Board's channel."""
