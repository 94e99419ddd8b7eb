"""The Model health page: a FastAPI app in Airflow's API server (``model_health_app``), its page
and scripts (``static/``, charts drawn in the browser with the vendored uPlot), registered by
``plugins/model_health.py`` as an app under ``/model-health`` and an entry in the navigation."""
