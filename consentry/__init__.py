"""Consentry's licensee-side tools, which run without the service (``consentry.client``)."""
