"""Versioned snapshot storage: schema, the one snapshot writer, and the queries over history."""
