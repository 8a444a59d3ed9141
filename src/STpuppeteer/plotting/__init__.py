"""Figures: one function per picture, each drawing from the simulation's own objects."""
