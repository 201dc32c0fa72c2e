"""Route modules: each parses a request, calls the caller's :class:`Tenant`, shapes the answer."""
