//! A TCP proxy in front of each mock broker that reads the epoch of every
//! ShareGroupHeartbeat, ShareFetch and ShareAcknowledge off the wire (the
//! mock's own request tracking reports API keys, not epochs).
//!
//! The three requests start alike in v1: GroupId and MemberId as compact
//! strings, then an int32 epoch, after a v2 request header.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// (broker id, api key, epoch) in arrival order.
pub type Log = Arc<Mutex<Vec<(i32, i16, i32)>>>;

/// Starts one proxy per broker, re-advertises the brokers at the proxies
/// and returns the proxy bootstrap list and the log.
pub async fn start(m: &Arc<rkafka_tests::MockCluster>) -> (String, Log) {
    let log: Log = Arc::default();
    let mut bootstrap = Vec::new();
    for &(id, port) in m.brokers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap().port();
        bootstrap.push(format!("127.0.0.1:{local}"));
        let log = log.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    if let Ok(broker) = TcpStream::connect(("127.0.0.1", port)).await {
                        pipe(id, client, broker, log).await;
                    }
                });
            }
        });
        super::control(m, &format!("advertise {id} 127.0.0.1 {local}")).await;
    }
    (bootstrap.join(","), log)
}

async fn pipe(id: i32, client: TcpStream, broker: TcpStream, log: Log) {
    let (mut cr, mut cw) = client.into_split();
    let (mut br, mut bw) = broker.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut br, &mut cw).await;
    });
    loop {
        let mut len = [0u8; 4];
        if cr.read_exact(&mut len).await.is_err() {
            break;
        }
        let n = i32::from_be_bytes(len);
        if !(0..=64 << 20).contains(&n) {
            break;
        }
        let mut frame = vec![0u8; n as usize];
        if cr.read_exact(&mut frame).await.is_err() {
            break;
        }
        if let Some((api, epoch)) = epoch_of(&frame) {
            log.lock().unwrap().push((id, api, epoch));
        }
        if bw.write_all(&len).await.is_err() || bw.write_all(&frame).await.is_err() {
            break;
        }
    }
    down.abort();
}

fn epoch_of(f: &[u8]) -> Option<(i16, i32)> {
    let api = i16::from_be_bytes([*f.first()?, *f.get(1)?]);
    if !(76..=79).contains(&api) || api == 77 {
        return None;
    }
    // api key, version, correlation id, client id (int16 length), tagged fields.
    let mut at = 8;
    let cid = i16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]);
    at += 2 + cid.max(0) as usize;
    at = skip_tags(f, at)?;
    for _ in 0..2 {
        let (len, next) = uvarint(f, at)?;
        at = next + (len.saturating_sub(1)) as usize;
    }
    let e = f.get(at..at + 4)?;
    Some((api, i32::from_be_bytes([e[0], e[1], e[2], e[3]])))
}

fn skip_tags(f: &[u8], at: usize) -> Option<usize> {
    let (count, mut at) = uvarint(f, at)?;
    for _ in 0..count {
        let (_, next) = uvarint(f, at)?;
        let (size, next) = uvarint(f, next)?;
        at = next + size as usize;
    }
    Some(at)
}

fn uvarint(f: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for shift in (0..35).step_by(7) {
        let b = *f.get(at)?;
        at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((v, at));
        }
    }
    None
}

/// Per broker, the share-session epochs (ShareFetch 78 and ShareAcknowledge 79).
pub fn session_epochs(log: &Log, broker: i32) -> Vec<(i16, i32)> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(b, api, _)| *b == broker && (*api == 78 || *api == 79))
        .map(|&(_, api, e)| (api, e))
        .collect()
}
