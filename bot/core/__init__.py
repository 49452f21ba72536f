"""What every feature shares, each rule once: calendar, policy, directory and roles, privacy, formatting, errors, the outbox, the runtime."""
