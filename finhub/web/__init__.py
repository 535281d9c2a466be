"""The operator surface: the web app (REST API, dashboard, ``/metrics``) served by ``finhub web``."""
