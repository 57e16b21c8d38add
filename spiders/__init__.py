"""One spider per model store; each module declares its store's config (`STORE`) beside the spider."""
