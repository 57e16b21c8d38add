"""The query UI: Datasette over a storewatch SQLite database, with the tables explained and canned queries.

`storewatch serve` (crawler/cli/serve.py) starts it. Datasette is an optional extra (`storewatch[serve]`):
nothing outside this package imports it.
"""
