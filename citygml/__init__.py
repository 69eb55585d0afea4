"""Streaming reader (and sample writer) for Japan's PLATEAU CityGML 3D city models."""

from citygml.dataset import Dataset, DatasetFile, open_dataset, read_file
from citygml.errors import CityGMLError, ReadWarning
from citygml.model import Code, Feature, Geometry, HazardRisk, Polygon, Surface, Texture
from citygml.ranks import RankScheme, depth_range_of_label

__all__ = [
    "Code", "CityGMLError", "Dataset", "DatasetFile", "Feature", "Geometry", "HazardRisk",
    "Polygon", "RankScheme", "ReadWarning", "Surface", "Texture", "depth_range_of_label",
    "open_dataset", "read_file",
]
