//! rkafka core client (being written).
