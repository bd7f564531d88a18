"""Preference pairs from ratings: build them, write the versioned manifest and its card, export them.

- ``config``: :class:`BuildPairsConfig` (strategies, aggregates, weights) and its checks.
- ``build``: the DuckDB build (named queries in ``curation/sql/``) into a ``PairsResult``; writes nothing.
- ``manifest``: writes a result as ``pairs-vNNNN.parquet`` (metadata, version numbers, atomic write) and its card.
- ``card``: the dataset card's statistics and text.
- ``export``: a manifest as a Hugging Face dataset folder or Pick-a-Pic-style files.

Nothing is imported here, so importing one module does not load DuckDB for the others.
"""
