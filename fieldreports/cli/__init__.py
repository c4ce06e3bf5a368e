"""The command line's parts that need no episodes: the console, loose files, uploads, init."""
