class SpeckConfiguration:
    """Named at import time by sinabs's config builders; holds nothing."""
