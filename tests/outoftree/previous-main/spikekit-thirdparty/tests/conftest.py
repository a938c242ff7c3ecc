"""spikekit's fixtures are opt-in (no pytest11 entry point): this suite does not need them."""
