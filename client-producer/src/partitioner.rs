//! Choosing a partition: Java's default rules and a trait for custom ones.
//!
//! A keyed record goes to `toPositive(murmur2(key)) % partitions`, exactly as
//! the Java client (and librdkafka's `murmur2_random`) put it, so producers
//! in different languages agree on where a key lives. A record without a key
//! uses the uniform sticky strategy (KIP-480, KIP-794): all such records of a
//! topic go to one partition until about `batch.size` bytes were sent there,
//! then a new partition is picked at random, which fills batches well
//! without skewing the load. With `partitioner.adaptive.partitioning.enable`
//! (the default) the pick favours partitions with fewer batches waiting and
//! skips partitions without a leader, so a slow broker gets less.

/// Chooses partitions for records (Java's `Partitioner`).
///
/// ```
/// use rkafka_client_producer::partitioner::Partitioner;
///
/// /// Sends every record to the last partition.
/// #[derive(Debug)]
/// struct Last;
/// impl Partitioner for Last {
///     fn partition(&self, _topic: &str, _key: Option<&[u8]>, _value: Option<&[u8]>, partitions: i32) -> Option<i32> {
///         Some(partitions - 1)
///     }
/// }
/// assert_eq!(Last.partition("t", None, None, 6), Some(5));
/// ```
pub trait Partitioner: Send + Sync + std::fmt::Debug {
    /// The partition for a record of `topic`, which has `partitions`
    /// partitions; `None` leaves the choice to the built-in uniform sticky
    /// partitioner. A partition out of range fails that record.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: i32,
    ) -> Option<i32>;
}

/// Java's `Utils.murmur2`: MurmurHash2, 32-bit, seed `0x9747b28c`.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = 0x9747_b28c ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which would
/// overflow on `i32::MIN`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Java's default partitioner gives a keyed record.
pub fn key_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    to_positive(murmur2(key)) % partitions
}

/// The uniform sticky choice for records without a key, for one topic.
#[derive(Debug, Clone)]
pub(crate) struct Sticky {
    current: Option<i32>,
    bytes: usize,
    rng: u64,
}

impl Sticky {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            current: None,
            bytes: 0,
            rng: seed | 1,
        }
    }

    /// The partition for the next unkeyed record of `size` bytes; switches
    /// partition once `batch_size` bytes went to the current one (KIP-794).
    /// `weights`, when given, are the adaptive weights of the partitions
    /// (see [`adaptive_weights`]); else the choice is uniform.
    pub(crate) fn next(
        &mut self,
        partitions: i32,
        size: usize,
        batch_size: usize,
        weights: impl FnOnce() -> Option<Vec<u32>>,
    ) -> i32 {
        let current = match self.current {
            Some(p) if p < partitions && self.bytes < batch_size => p,
            previous => {
                let p = match weights() {
                    Some(w) if w.len() == partitions as usize => self
                        .pick_weighted(&w)
                        .unwrap_or_else(|| self.pick(partitions, previous)),
                    _ => self.pick(partitions, previous),
                };
                self.current = Some(p);
                self.bytes = 0;
                p
            }
        };
        self.bytes = self.bytes.saturating_add(size);
        current
    }

    fn pick(&mut self, partitions: i32, previous: Option<i32>) -> i32 {
        if partitions <= 1 {
            return 0;
        }
        let mut p = (self.random() % partitions as u64) as i32;
        if Some(p) == previous {
            p = (p + 1) % partitions;
        }
        p
    }

    /// A partition drawn with probability proportional to its weight, as
    /// Java's `BuiltInPartitioner` draws from its cumulative frequency
    /// table; `None` when every weight is 0.
    fn pick_weighted(&mut self, weights: &[u32]) -> Option<i32> {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        if total == 0 {
            return None;
        }
        let mut r = self.random() % total;
        for (p, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if r < w {
                return Some(p as i32);
            }
            r -= w;
        }
        None
    }

    /// xorshift64*: statistical quality is plenty for spreading load.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33
    }
}

/// KIP-794's adaptive weights, from each partition's waiting batches
/// (`None` for a partition without a leader, which gets no new records
/// while others have one): `max + 1 - waiting`, so the partition with the
/// longest queue weighs 1 and an idle one `max + 1`.
pub(crate) fn adaptive_weights(waiting: &[Option<u32>]) -> Vec<u32> {
    let max = waiting.iter().flatten().copied().max().unwrap_or(0);
    waiting
        .iter()
        .map(|w| w.map_or(0, |w| max.saturating_add(1).saturating_sub(w)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_handles_every_tail_length_and_is_stable() {
        // Values computed by Java's Utils.murmur2 (from Kafka's UtilsTest
        // and the librdkafka murmur2 test vectors).
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
        assert_eq!(to_positive(i32::MIN), 0);
    }

    #[test]
    fn sticky_stays_until_a_batch_worth_then_moves() {
        let mut s = Sticky::new(42);
        let first = s.next(6, 100, 1000, || None);
        for _ in 0..9 {
            assert_eq!(s.next(6, 100, 1000, || None), first);
        }
        let next = s.next(6, 100, 1000, || None);
        assert_ne!(next, first);
        assert!((0..6).contains(&next));
        let mut one = Sticky::new(1);
        assert!((0..50).all(|_| one.next(1, 10_000, 10, || None) == 0));
    }

    #[test]
    fn adaptive_choice_favours_short_queues_and_skips_leaderless_partitions() {
        // Partition 0 has 9 batches waiting, 1 none, 2 no leader.
        let weights = adaptive_weights(&[Some(9), Some(0), None]);
        assert_eq!(weights, vec![1, 10, 0]);
        let mut s = Sticky::new(7);
        let mut hits = [0u32; 3];
        for _ in 0..11_000 {
            // Every record is a batch's worth: a new choice each time.
            hits[s.next(3, 10, 10, || Some(weights.clone())) as usize] += 1;
        }
        assert_eq!(hits[2], 0);
        // Expected 1,000 and 10,000.
        assert!((700..1300).contains(&hits[0]), "{hits:?}");
        assert!(hits[1] > 9_000, "{hits:?}");
        // All leaderless: uniform over all rather than nowhere.
        assert_eq!(adaptive_weights(&[None, None]), vec![0, 0]);
        assert!((0..2).contains(&s.next(2, 10, 10, || Some(vec![0, 0]))));
    }
}
