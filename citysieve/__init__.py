"""citysieve core: the pieces every layer shares (errors, clock, paths, settings, policies).

The layers follow the design card: ``transforms`` is pure privacy logic,
``connectors`` does I/O (Kafka, sinks, the local broker), ``streams`` wires
topics to transforms and holds the command line.
"""

__version__ = "0.1.0"
