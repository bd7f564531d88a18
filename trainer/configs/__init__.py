"""Shipped run configs (YAML), package data so ``curate train-dpo --config paper`` finds them when installed."""
