"""Polygon engine: star polygons, point location, nearest nucleus, rings, WKB, raster.

Knows no stage and no config: arrays and shapely geometries in, arrays out.
"""
