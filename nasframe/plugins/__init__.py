"""Built-in strategies, each a pluggy plugin registered through the ``nasframe`` entry points."""
