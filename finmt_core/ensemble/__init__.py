"""Ensembles of finished runs: stacking weights (:mod:`.weights`), member checks and loading
(:mod:`.members`), building an ensemble run from runs or a preset (:mod:`.build`) and the
members beside the ensemble in its evaluation (:mod:`.evaluate`). The estimator itself is
``finmt_core.models.ensemble`` (registered as ``ensemble``)."""
