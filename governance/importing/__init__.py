"""Catalog import: CSV and DDEX ERN files into works, releases and rights shares.

``sources`` read a file into :class:`~governance.importing.records.ImportRecord` objects (one
per work) and problems (each with its line or XPath); ``apply`` upserts the records by
identifier, in chunks, appending the ledger entries of what changed; ``run`` ties both together
for the command, the Celery task and the tests.
"""
