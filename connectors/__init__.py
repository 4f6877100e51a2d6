"""I/O: Kafka admin and clients, sinks, sources, the local broker."""
