"""Read models: `engine/` runs projectors (event -> view rows + tracking, one transaction),
`views/<view>/` holds each view's projector, schema and queries."""
