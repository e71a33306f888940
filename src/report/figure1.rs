//! Figure 1: the shared-token heat-map and the histogram of its off-diagonal ratios (being built).
