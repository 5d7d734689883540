"""The REST API: presentation only (serializers, views, permissions, one exception handler)."""
