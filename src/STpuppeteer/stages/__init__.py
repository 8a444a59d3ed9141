"""The stages of the simulation, one module each: (config, inputs, rng) -> output."""
