"""A 3D Tiles 1.1 writer: building and terrain meshes, glb content, tilesets and their metadata."""
