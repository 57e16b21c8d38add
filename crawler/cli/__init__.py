"""The `storewatch` command line: a thin layer over storage, the crawl runner and the replay server."""
