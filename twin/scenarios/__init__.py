"""Built-in flood scenarios (TOML), found by name by ``twin.scenario.load_scenario``."""
