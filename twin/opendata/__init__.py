"""Open data: the City's layers as OGC API – Features collections, a DCAT-AP/CKAN catalogue, exports.

``layers`` is the one table of publishable layers (adding a City layer is one entry there);
``tables`` streams them from GeoParquet; ``cql`` reads CQL2 filters (pygeofilter); ``crs`` the
CRSs answers come in; ``collections`` what a City publishes; ``catalog`` its DCAT-AP and CKAN
descriptions; ``exports``, ``cityjson`` and ``cog`` the files GIS tools open. Every output
carries the City's ``licence.attribution`` (PLATEAU; GSI when its terrain came from a
GSI DEM) and the licence.
"""
