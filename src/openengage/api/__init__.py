"""HTTP API: the WebEngage and MoEngage dialects, and the read API."""
