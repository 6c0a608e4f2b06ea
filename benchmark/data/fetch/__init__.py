"""Getting a task's data: ``plans`` (where each dataset comes from), ``runner`` (``benchmark data download``),
``unpack`` (archives into the task's layout), ``manifest`` (what was fetched, with sha256s), ``status``
(``benchmark data status``). The HTTP transfer itself is ``benchmark.data.download``."""
