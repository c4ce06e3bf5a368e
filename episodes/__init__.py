"""Episodes, the podcast feed, storage and publishing."""
