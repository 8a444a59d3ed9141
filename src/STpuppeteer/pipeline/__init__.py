"""Drivers: the in-memory simulator and the block-streamed Xenium writer."""
