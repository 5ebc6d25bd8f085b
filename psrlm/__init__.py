"""psrlm: Process-based Self-Rewarding Language Models as a declarative DVC + Parquet pipeline.

The shared library of the stages in `stages/`: pure functions, schemas and params; no stage logic.
"""
