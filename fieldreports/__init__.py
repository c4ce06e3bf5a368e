"""fieldreports: field recordings and notes in, a podcast feed, broadcast masters and a route map out."""

__version__ = "0.1.0"
