"""Learning visits: a live observation of practice by senior managers independent of the service,
commissioned by its Divisional Leadership Team, whose improvement plan goes to the next
Continuous Improvement Board."""
