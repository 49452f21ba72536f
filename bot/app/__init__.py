"""The app shell: the only code that wires everything (create_app, the web server, the CLI)."""
