"""Built-in search spaces, each a pluggy plugin registered through the ``nasframe`` entry points."""
