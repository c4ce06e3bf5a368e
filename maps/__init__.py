"""The public route map."""
