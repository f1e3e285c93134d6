"""finmt_core: multi-task learning on market data (data, models, training, evaluation)."""
