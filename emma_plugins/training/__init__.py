"""Two-stage training: fit and freeze the estimators, then train EMMA and the network end to end."""
