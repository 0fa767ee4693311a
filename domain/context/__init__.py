"""The context graph: what Cairn knows about a person (memories, entities, facts over time).

Every personal value (a memory's text, an entity's name, a fact's value) is sealed in its event
and referred to by a payload id: the plaintext lives in a forgettable payload store, so that
forgetting removes it for good (docs/context.md, decision 0027).
"""
