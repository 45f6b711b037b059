"""Server-rendered pages. Every form works as a plain POST; HTMX swaps the part that changed."""
