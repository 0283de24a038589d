"""The HTTP side: middlewares (auth, CORS, errors, rate limits, timing, proxy) and handlers."""
