// The TreeRPO module: rollout trees, rewards, values and advantages, loss, optimiser, trainer, evaluation, datasets.
