"""Readers, writers and converters: instrument bundles, SpatialData, AnnData."""
