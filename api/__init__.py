"""The HTTP edge: app factory, routers, auth dependencies, request/response schemas."""
