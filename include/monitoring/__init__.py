"""Monitoring of the champion in production, one job per module (the statistics themselves live
in ``include.drift``): ``window`` reads the capture hours an hourly check judges, ``reference``
finds the reference profile of the model version that scored them, ``check`` judges a window
(and renders Evidently's report of an alerting one), ``history`` stores the judged windows and
the retraining triggers, ``sustained`` decides whether drift is sustained enough to retrain,
``performance`` computes the realized AUC of a matured cohort from the delayed labels,
``alerts`` audits and notifies each alert once, and ``capture`` stands in for the scoring side
(the champion scorer, and the simulator's landing of missing capture hours). The retraining
request a monitor sends is built by ``include.training.request.monitor_request``.
"""
