"""FastAPI app: thin command and query routes over commands/ and projections/."""
