"""Streaming reader (and sample writer) for Japan's PLATEAU CityGML 3D city models."""

from citygml.dataset import Dataset, DatasetFile, open_dataset, read_file
from citygml.errors import CityGMLError, ReadWarning
from citygml.model import Code, Feature, Geometry, HazardRisk, Polygon, Surface, Texture

__all__ = [
    "Code", "CityGMLError", "Dataset", "DatasetFile", "Feature", "Geometry", "HazardRisk",
    "Polygon", "ReadWarning", "Surface", "Texture", "open_dataset", "read_file",
]
