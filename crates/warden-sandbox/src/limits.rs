//! Resource limits: cgroups where the kernel offers them, else rlimits.
