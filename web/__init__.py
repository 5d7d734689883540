"""The pages: server-rendered Django templates over the same services and selectors as the API."""
