"""The thin command-line layer: parses options, calls the stages, prints results. No logic lives here."""
