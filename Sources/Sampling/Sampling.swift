// The Sampling module: logit processors, seeded RNG, batched decoding (and later the tree sampler).
