"""Slack listeners only: one module per feature, each with a ``register(app, rt)`` that wires its
module-level listeners. Which modules exist is said once, in ``bot.app.features``."""
