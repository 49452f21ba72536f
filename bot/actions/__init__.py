"""Action plans: actions from learning audits, sampling and visits; reminders and escalation."""
