"""A store's past read from its source repository's git history: one run per chosen commit, extracted with the
spiders' own functions from the blobs the live spider would read at that commit (see githistory.backfill)."""
