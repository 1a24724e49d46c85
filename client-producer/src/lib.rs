//! rkafka's producer (work in progress: see issue 4).
