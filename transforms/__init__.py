"""Pure privacy logic over records, Arrow batches or polars frames.

No Kafka, no Faust, no file I/O: every rule here can be tested without a broker.
"""
