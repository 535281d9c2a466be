"""Market-data provider adapters behind one interface (:mod:`providers.base`), listed in
:mod:`providers.registry`. Nothing here knows Dramatiq, Redis or the database."""
