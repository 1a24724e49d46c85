//! Random message values for property tests and fuzzing (feature
//! `arbitrary`, always on in this crate's own tests).
//!
//! Generated messages implement [`Arbitrary`] by filling exactly the fields a
//! version has, so `encode → decode` must give the value back.

use bytes::Bytes;
use uuid::Uuid;

use crate::primitives::RawTaggedField;

/// A small deterministic random source (xorshift64*), so a failing case can
/// be replayed from its seed.
#[derive(Debug, Clone)]
pub struct Gen {
    state: u64,
}

impl Gen {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A short length, skewed towards 0 and 1 so nesting stays small.
    pub fn small_len(&mut self) -> usize {
        match self.below(8) {
            0..=2 => 0,
            3..=5 => 1,
            6 => 2,
            _ => 3,
        }
    }

    /// `Some` value, or `None` a quarter of the time when null is allowed.
    pub fn nullable<T: Arbitrary>(&mut self, version: i16, allowed: bool) -> Option<T> {
        if allowed && self.below(4) == 0 {
            None
        } else {
            Some(T::arbitrary(self, version))
        }
    }

    /// Unknown tagged fields, with tags well above any Kafka uses, sorted.
    pub fn unknown_tags(&mut self) -> Vec<RawTaggedField> {
        let n = self.below(3) as u32;
        (0..n)
            .map(|i| RawTaggedField {
                tag: 10_000 + i * 7 + self.below(7) as u32,
                data: Bytes::arbitrary(self, 0),
            })
            .collect()
    }
}

/// A type that can make random values of itself.
pub trait Arbitrary: Sized {
    /// A random value valid at `version`.
    fn arbitrary(g: &mut Gen, version: i16) -> Self;
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl Arbitrary for $t {
            fn arbitrary(g: &mut Gen, _: i16) -> Self {
                // Mix edge values with random ones.
                match g.below(6) {
                    0 => 0,
                    1 => <$t>::MAX,
                    2 => <$t>::MIN,
                    3 => 1,
                    _ => g.next_u64() as $t,
                }
            }
        }
    )*};
}
ints!(i8, i16, u16, i32, u32, i64);

impl Arbitrary for f64 {
    fn arbitrary(g: &mut Gen, _: i16) -> Self {
        // NaN is never equal to itself; round trips compare with ==.
        (g.next_u64() >> 11) as f64 / 7.0
    }
}

impl Arbitrary for bool {
    fn arbitrary(g: &mut Gen, _: i16) -> Self {
        g.below(2) == 1
    }
}

impl Arbitrary for String {
    fn arbitrary(g: &mut Gen, _: i16) -> Self {
        const CHARS: &[char] = &['a', 'z', '0', '-', '_', '.', 'é', '日', ' '];
        let n = g.below(12) as usize;
        (0..n)
            .map(|_| CHARS[g.below(CHARS.len() as u64) as usize])
            .collect()
    }
}

impl Arbitrary for Bytes {
    fn arbitrary(g: &mut Gen, _: i16) -> Self {
        let n = g.below(20) as usize;
        (0..n)
            .map(|_| g.next_u64() as u8)
            .collect::<Vec<u8>>()
            .into()
    }
}

impl Arbitrary for Uuid {
    fn arbitrary(g: &mut Gen, _: i16) -> Self {
        Uuid::from_u64_pair(g.next_u64(), g.next_u64())
    }
}

impl<T: Arbitrary> Arbitrary for Vec<T> {
    fn arbitrary(g: &mut Gen, version: i16) -> Self {
        let n = g.small_len();
        (0..n).map(|_| T::arbitrary(g, version)).collect()
    }
}
