//! Compression codecs for the records section of a batch.
//!
//! Only the records are compressed; the 61-byte batch header stays plain so a
//! broker can read offsets and producer state without decompressing.
//!
//! Decoding accepts what both the Java client and librdkafka write:
//! - gzip: one or more gzip members;
//! - snappy: Java's xerial framing (`\x82SNAPPY\x00`, two `int32` versions,
//!   then `int32`-length-prefixed raw snappy blocks) or, from librdkafka, one
//!   raw snappy block;
//! - lz4: standard LZ4 frames (any block mode, with or without checksums);
//! - zstd: standard frames, with or without the content size.
//!
//! Encoding writes what Java writes: xerial-framed snappy with 32 KiB blocks,
//! LZ4 frames with independent 64 KiB blocks and no checksums, gzip, zstd.
//!
//! Every decompressor writes into a buffer that grows only as output actually
//! arrives and never past the caller's limit, so a small malicious payload
//! cannot make us allocate more than the limit.

use std::io::{Read, Write};

use super::error::RecordsError;

/// The compression codec of a batch (bits 0-2 of its attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (deflate).
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4 frames.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The codec's id in the batch attributes.
    #[inline]
    pub const fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// The codec with this attributes id.
    #[inline]
    pub const fn from_id(id: u8) -> Result<Self, RecordsError> {
        Ok(match id {
            0 => Self::None,
            1 => Self::Gzip,
            2 => Self::Snappy,
            3 => Self::Lz4,
            4 => Self::Zstd,
            other => return Err(RecordsError::UnknownCompression(other)),
        })
    }

    /// The codec's name as Kafka configs spell it (`compression.type`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// The header Java's xerial snappy stream starts with.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// Magic plus the stream version and minimum compatible version (both 1).
const XERIAL_HEADER_LEN: usize = 16;
/// The uncompressed block size Java's snappy stream uses.
const XERIAL_BLOCK: usize = 32 * 1024;

/// Decompresses `input` written with `codec`, failing once the output would
/// pass `limit` bytes.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, RecordsError> {
    let err = |e: std::io::Error| RecordsError::Decompression {
        codec: codec.name(),
        message: e.to_string(),
    };
    match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(RecordsError::DecompressedTooLarge { limit });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => read_limited(flate2::read::MultiGzDecoder::new(input), input, limit)
            .map_err(|e| {
                e.unwrap_or_else(|io| RecordsError::Decompression {
                    codec: "gzip",
                    message: io.to_string(),
                })
            }),
        Compression::Snappy => decompress_snappy(input, limit),
        Compression::Lz4 => read_limited(lz4_flex::frame::FrameDecoder::new(input), input, limit)
            .map_err(|e| e.unwrap_or_else(err)),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(err)?;
            read_limited(decoder, input, limit).map_err(|e| e.unwrap_or_else(err))
        }
    }
}

/// Reads `reader` to its end into a buffer that grows geometrically but never
/// past `limit + 1` bytes (one more than allowed, to tell "exactly at the
/// limit" from "over it"). `Err(Ok(_))` is a limit error, `Err(Err(_))` an I/O
/// (codec) error.
fn read_limited(
    mut reader: impl Read,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, Result<RecordsError, std::io::Error>> {
    let cap = limit.saturating_add(1);
    // Kafka payloads typically compress 2-5x; start there to avoid most regrowth.
    let mut out = vec![0u8; input.len().saturating_mul(4).max(4096).min(cap)];
    let mut filled = 0;
    loop {
        if filled == out.len() {
            if out.len() >= cap {
                return Err(Ok(RecordsError::DecompressedTooLarge { limit }));
            }
            let grown = out.len().saturating_mul(2).min(cap);
            out.resize(grown, 0);
        }
        match reader.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Err(e)),
        }
    }
    out.truncate(filled);
    Ok(out)
}

fn snappy_err(e: snap::Error) -> RecordsError {
    RecordsError::Decompression {
        codec: "snappy",
        message: e.to_string(),
    }
}

/// Decompresses one raw snappy block onto the end of `out`.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), RecordsError> {
    // The block states its decompressed length up front: check it before
    // allocating, so a forged length costs nothing.
    let n = snap::raw::decompress_len(block).map_err(snappy_err)?;
    if n > limit - out.len() {
        return Err(RecordsError::DecompressedTooLarge { limit });
    }
    let start = out.len();
    out.resize(start + n, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(snappy_err)?;
    out.truncate(start + written);
    Ok(())
}

fn decompress_snappy(input: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    if !input.starts_with(XERIAL_MAGIC) {
        snappy_block(input, &mut out, limit)?;
        return Ok(out);
    }
    let mut rest = input
        .get(XERIAL_HEADER_LEN..)
        .ok_or(RecordsError::Decompression {
            codec: "snappy",
            message: "xerial header truncated".into(),
        })?;
    // Each round consumes at least the four-byte length, so this ends.
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(RecordsError::Decompression {
                codec: "snappy",
                message: "xerial block length truncated".into(),
            });
        };
        let len = i32::from_be_bytes(*len);
        if len < 0 || len as usize > tail.len() {
            return Err(RecordsError::Decompression {
                codec: "snappy",
                message: format!("xerial block length {len} with {} bytes left", tail.len()),
            });
        }
        let (block, tail) = tail.split_at(len as usize);
        snappy_block(block, &mut out, limit)?;
        rest = tail;
    }
    Ok(out)
}

/// Appends `input` compressed with `codec` to `out`.
///
/// `level` applies to gzip (0-9, default 6) and zstd (1-22, default 3), the
/// same defaults as the Java producer; snappy and lz4 ignore it.
pub(crate) fn compress(
    codec: Compression,
    input: &[u8],
    level: Option<i32>,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let err = |e: std::io::Error| RecordsError::Compression {
        codec: codec.name(),
        message: e.to_string(),
    };
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => {
            let level = flate2::Compression::new(level.unwrap_or(6).clamp(0, 9) as u32);
            let mut enc = flate2::write::GzEncoder::new(out, level);
            enc.write_all(input).map_err(err)?;
            enc.finish().map_err(err)?;
        }
        Compression::Snappy => {
            out.extend_from_slice(XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for chunk in input.chunks(XERIAL_BLOCK) {
                let at = out.len();
                out.resize(at + 4 + snap::raw::max_compress_len(chunk.len()), 0);
                let n = enc.compress(chunk, &mut out[at + 4..]).map_err(|e| {
                    RecordsError::Compression {
                        codec: "snappy",
                        message: e.to_string(),
                    }
                })?;
                out[at..at + 4].copy_from_slice(&(n as i32).to_be_bytes());
                out.truncate(at + 4 + n);
            }
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
            enc.write_all(input).map_err(err)?;
            enc.finish().map_err(|e| RecordsError::Compression {
                codec: "lz4",
                message: e.to_string(),
            })?;
        }
        Compression::Zstd => zstd_compress(input, level.unwrap_or(3), out).map_err(err)?,
    }
    Ok(())
}

thread_local! {
    /// One zstd compression context per thread, kept between batches: a new
    /// context allocates and clears about a megabyte of tables at level 3,
    /// which cost more than compressing a 100 KB batch itself.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Appends `input` compressed as one zstd frame (content size included, as
/// Java's and librdkafka's readers accept) to `out`.
fn zstd_compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> std::io::Result<()> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match &mut *slot {
            Some((l, c)) if *l == level => c,
            _ => &mut slot.insert((level, zstd::bulk::Compressor::new(level)?)).1,
        };
        let at = out.len();
        out.resize(at + zstd::zstd_safe::compress_bound(input.len()), 0);
        let n = compressor.compress_to_buffer(input, &mut out[at..])?;
        out.truncate(at + n);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn round_trips_every_codec() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for c in ALL {
            let mut out = Vec::new();
            compress(c, &data, None, &mut out).unwrap();
            assert_eq!(decompress(c, &out, 1 << 20).unwrap(), data, "{c:?}");
            assert_eq!(Compression::from_id(c.id()).unwrap(), c);
        }
    }

    #[test]
    fn limits_output() {
        let data = vec![0u8; 1 << 20];
        for c in ALL {
            let mut out = Vec::new();
            compress(c, &data, None, &mut out).unwrap();
            assert_eq!(
                decompress(c, &out, 1000).unwrap_err(),
                RecordsError::DecompressedTooLarge { limit: 1000 },
                "{c:?}"
            );
            assert_eq!(decompress(c, &out, 1 << 20).unwrap().len(), 1 << 20);
        }
    }

    #[test]
    fn raw_snappy_and_zstd_without_content_size() {
        let data = b"librdkafka writes raw snappy blocks".repeat(100);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 1 << 20).unwrap(),
            data
        );
        let mut z = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        z.include_contentsize(false).unwrap();
        z.write_all(&data).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(decompress(Compression::Zstd, &z, 1 << 20).unwrap(), data);
    }

    #[test]
    fn garbage_is_an_error() {
        for c in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(decompress(c, b"\x82SNAPPY\x00garbage garbage", 1 << 20).is_err());
            assert!(decompress(c, &[0xff; 64], 1 << 20).is_err());
        }
        assert_eq!(
            Compression::from_id(5),
            Err(RecordsError::UnknownCompression(5))
        );
    }
}
