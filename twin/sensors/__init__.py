"""Live sensor data: SensorThings and NGSI-v2 over one store, alerts and the event log."""
