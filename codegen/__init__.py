"""Turn the vendored OpenAPI specs in ``spec/`` into the Pydantic models in ``polyresponses/generated/``.

The pipeline, in order (``python -m codegen``; ``--check`` compares instead of writing):

1. ``_lock``: every vendored spec must match the sha256 in ``spec/lock.toml``.
2. ``_validate``: openapi-spec-validator over each upstream spec, compared with the explicit list of
   known upstream errors in ``codegen/known_spec_errors.toml`` (a new error fails, a fixed one is reported).
3. ``_overlay``: vendor additions from ``spec/overlays/*.overlay.json`` (OpenAPI Overlay 1.0 subset).
4. ``_prune``: the OpenAI spec shrinks to the closure of the Responses and Conversations paths.
5. ``_normalise``: ``allOf`` description wrappers flattened, inline stream unions named, explicit
   discriminator mappings, OpenResponses-only stream events merged into the canonical union.
6. ``_generate``: datamodel-code-generator (pinned) with one profile per spec in ``pyproject.toml``.

Nothing here is imported by the runtime package.
"""
