"""Lifelong on Apache Spark: `python -m lifelong.spark.encode` (the sharded BSE encode)."""
