"""Commands of the context graph: note, correct and forget memories, record facts, merge
entities (docs/context.md)."""
