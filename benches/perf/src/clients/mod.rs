//! One module per client measured; each runs the same workload.

pub mod rdkafka_peer;
pub mod rkafka;
pub mod rskafka_peer;
