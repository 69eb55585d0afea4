"""Built-in flood scenarios (TOML), found by name by ``twin.flood.scenario.load_scenario``, and which of them
fit only the sample city."""

#: Built-in scenarios placed by hand on the sample city (``twin sample-city``), with the note said for them
#: in Japanese and English: the one text of ``twin flood run --help``, ``twin scenario run --help``,
#: ``/api/scenarios/builtin`` (``sample_city_only``) and the console's scenario selector.
SAMPLE_CITY_ONLY = {
    "river-breach": {"ja": "決壊地点はサンプル都市にだけ合います", "en": "its breach line fits only the sample city"},
}


def sample_city_only_help() -> str:
    """The built-in scenarios that fit only the sample city, as one sentence for ``--help``."""
    return " ".join(f"Built-in {name}: {note['en']}." for name, note in SAMPLE_CITY_ONLY.items())
