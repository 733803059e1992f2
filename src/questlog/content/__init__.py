"""Content packs: 5e-database JSON imported as events, read through typed models.

Modules (imported lazily; nothing here is imported by this package itself):

* `base`, `models_rules`, `models_character`, `models_items`, `models_monsters`,
  `models_spells`: pydantic models of the 25 SRD types, each schema built on first use;
  `types`: which model a type uses (plain Python); `generic`: `GenericEntry`, for other
  types and editions (also exported by `types`).
* `source`, `problems`, `validation`: reading a pack directory and checking all
  of it, every problem collected (`ContentValidationError.problems`).
* `importer`: the diff by content hash and the one atomic append per import.
* `columns`: read-model tables and filter columns, shared with the projector
  `projections/content_catalog.py`; `query`: parameterized filters.
* `api`: `ContentAPI`, what `store.content` is.

SQL in these modules names tables only from code constants (or the projection
engine's shadow names) and passes every value as a bound parameter.
"""
