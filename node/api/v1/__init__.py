"""The JSON API for members and custom clients, under /api/v1."""
