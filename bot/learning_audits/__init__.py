"""Learning audits: proposals, independent allocation, reflection, the record."""
