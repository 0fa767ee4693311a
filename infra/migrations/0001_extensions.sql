-- pgvector for the context graph's embeddings.
CREATE EXTENSION IF NOT EXISTS vector;
