"""Built-in flood scenarios (TOML), found by name by ``twin.flood.scenario.load_scenario``."""
