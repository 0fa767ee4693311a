"""One folder per view: its projector(s), its schema (`NNNN_*.sql`, applied by the migration
runner) and its queries. The package names its projectors in `PROJECTORS`; the engine's
registry finds it by its folder, so a new view touches nothing outside its folder."""
