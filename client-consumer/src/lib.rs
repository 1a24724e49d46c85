//! rkafka's consumers (work in progress: see issue 5).
