"""Usage analytics and data-quality findings over long-format readings (pure, no I/O)."""
