"""The governance domain: parties and their members, catalog, rights, consent, requests and
their evaluation."""
