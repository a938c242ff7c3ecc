class EventFilterGraph:
    """Named in sinabs's signatures; runs nothing."""
