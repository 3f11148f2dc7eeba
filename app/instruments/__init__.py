"""The instrument engine: questionnaire files, their expression language, answer validation,
scoring, alerts, readability and rendering for the phone.

Everything here is plain Python (no Flask, no database) so the submission path, the CLI and the
tests share one implementation. Modules: ``expressions`` (the language), ``model`` (frozen
dataclasses), ``loader`` (YAML → model with precise problems), ``engine`` (answer validation),
``scoring``, ``alerts``, ``readability``, ``rendering`` and ``canonical`` (content hash).
"""
