//! Shared helpers of the perf tools.
