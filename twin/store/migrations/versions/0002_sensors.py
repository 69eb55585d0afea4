"""Sensors: OGC SensorThings entities, alert states and the live event log.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _named(table: str, *columns: sa.Column, **kw) -> None:
    op.create_table(table, sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("name", sa.String(200), nullable=False),
                    sa.Column("description", sa.Text(), nullable=False), *columns,
                    sa.Column("properties", sa.JSON(), nullable=True), **kw)


def upgrade() -> None:
    _named("sta_things", sa.Column("owner_key_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=True))
    _named("sta_locations", sa.Column("encoding_type", sa.String(100), nullable=False),
           sa.Column("location", sa.JSON(), nullable=False))
    op.create_table(
        "sta_historical_locations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("thing_id", sa.Integer(), sa.ForeignKey("sta_things.id", ondelete="CASCADE"), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_sta_historical_locations_thing_id", "sta_historical_locations", ["thing_id"])
    op.create_table(
        "sta_thing_locations",
        sa.Column("thing_id", sa.Integer(), sa.ForeignKey("sta_things.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("sta_locations.id", ondelete="CASCADE"),
                  primary_key=True),
    )
    op.create_table(
        "sta_historical_location_locations",
        sa.Column("historical_location_id", sa.Integer(),
                  sa.ForeignKey("sta_historical_locations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("sta_locations.id", ondelete="CASCADE"),
                  primary_key=True),
    )
    _named("sta_sensors", sa.Column("encoding_type", sa.String(100), nullable=False),
           sa.Column("metadata", sa.Text(), nullable=False))
    _named("sta_observed_properties", sa.Column("definition", sa.String(500), nullable=False))
    _named("sta_datastreams",
           sa.Column("unit_of_measurement", sa.JSON(), nullable=False),
           sa.Column("observation_type", sa.String(200), nullable=False),
           sa.Column("thing_id", sa.Integer(), sa.ForeignKey("sta_things.id", ondelete="CASCADE"), nullable=False),
           sa.Column("sensor_id", sa.Integer(), sa.ForeignKey("sta_sensors.id"), nullable=False),
           sa.Column("observed_property_id", sa.Integer(), sa.ForeignKey("sta_observed_properties.id"),
                     nullable=False),
           sa.Column("owner_key_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=True))
    for column in ("thing_id", "sensor_id", "observed_property_id", "owner_key_id"):
        op.create_index(f"ix_sta_datastreams_{column}", "sta_datastreams", [column])
    _named("sta_features_of_interest", sa.Column("encoding_type", sa.String(100), nullable=False),
           sa.Column("feature", sa.JSON(), nullable=False))
    op.create_table(
        "sta_observations",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("datastream_id", sa.Integer(), sa.ForeignKey("sta_datastreams.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("phenomenon_time", sa.DateTime(), nullable=False),
        sa.Column("phenomenon_end", sa.DateTime(), nullable=True),
        sa.Column("result_time", sa.DateTime(), nullable=True),
        sa.Column("result_number", sa.Float(), nullable=True),
        sa.Column("result_json", sa.JSON(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("feature_of_interest_id", sa.Integer(), sa.ForeignKey("sta_features_of_interest.id"),
                  nullable=True),
        sa.UniqueConstraint("datastream_id", "phenomenon_time", name="uq_observation_datastream_time"),
    )
    op.create_index("ix_sta_observations_feature_of_interest_id", "sta_observations", ["feature_of_interest_id"])
    op.create_table(
        "sensor_alert_states",
        sa.Column("datastream_id", sa.Integer(), sa.ForeignKey("sta_datastreams.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("phenomenon_time", sa.DateTime(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "sensor_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for table in ("sensor_events", "sensor_alert_states", "sta_observations", "sta_features_of_interest",
                  "sta_datastreams", "sta_observed_properties", "sta_sensors",
                  "sta_historical_location_locations", "sta_thing_locations", "sta_historical_locations",
                  "sta_locations", "sta_things"):
        op.drop_table(table)
