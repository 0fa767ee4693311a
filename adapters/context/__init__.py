"""The context graph's adapters: the payload store, the directory of names, the embedders."""
