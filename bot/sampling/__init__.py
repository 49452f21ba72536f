"""Random sampling audits: the register, the draw, blind grades, moderation, the report."""
