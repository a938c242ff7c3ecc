"""spikekit-thirdparty: a test plugin that uses spikekit's public plugin contract only."""

__version__ = "0.1.0"
