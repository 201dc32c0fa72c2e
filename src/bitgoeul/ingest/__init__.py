"""Parsers that turn meter-data sources into long-format readings."""
