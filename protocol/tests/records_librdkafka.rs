//! Batches written by librdkafka decode to the records it was asked to write.
//!
//! Fixtures live in `tests/fixtures/librdkafka/` (or the directory named by
//! `RKAFKA_LIBRDKAFKA_FIXTURES`): `<codec>.bin` holds the raw `records` bytes
//! of a fetch response (one or more batches), `<codec>.json` the expected
//! records as `{"offset", "timestamp", "key", "value", "headers"}` with hex
//! byte strings (or null) and headers as `[name, hex-or-null]` pairs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use rkafka_protocol::records::FetchBatches;

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// Just enough JSON for the fixture files (no serde_json in this crate).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.s[self.i], c,
            "JSON: expected {:?} at {}",
            c as char, self.i
        );
        self.i += 1;
    }

    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'n' => self.word("null", Json::Null),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'"' => Json::Str(self.string()),
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(v);
                }
                loop {
                    v.push(self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b']' {
                        return Json::Arr(v);
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    m.insert(k, self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b'}' {
                        return Json::Obj(m);
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'0'..=b'9') {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Num(text.parse().expect("JSON: integer"))
            }
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Json {
        assert!(self.s[self.i..].starts_with(w.as_bytes()));
        self.i += w.len();
        v
    }

    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = String::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return out,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            self.i += 4;
                            char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap()
                        }
                        other => other as char,
                    });
                }
                _ => {
                    // Copy a whole UTF-8 sequence.
                    let start = self.i - 1;
                    let len = match c {
                        0..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    self.i = start + len;
                    out.push_str(std::str::from_utf8(&self.s[start..self.i]).unwrap());
                }
            }
        }
    }
}

fn hex(j: &Json) -> Option<Vec<u8>> {
    match j {
        Json::Null => None,
        Json::Str(s) => Some(
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
                .collect(),
        ),
        other => panic!("expected hex string or null, got {other:?}"),
    }
}

type Flat = (
    i64,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(Vec<u8>, Option<Vec<u8>>)>,
);

fn expected(json: &Json) -> Vec<Flat> {
    let Json::Arr(items) = json else {
        panic!("fixture JSON must be a list")
    };
    items
        .iter()
        .map(|item| {
            let Json::Obj(m) = item else {
                panic!("record must be an object")
            };
            let num = |k: &str| match m.get(k) {
                Some(Json::Num(n)) => *n,
                other => panic!("{k}: {other:?}"),
            };
            let headers = match m.get("headers") {
                Some(Json::Arr(hs)) => hs
                    .iter()
                    .map(|h| match h {
                        Json::Arr(pair) if pair.len() == 2 => {
                            let Json::Str(name) = &pair[0] else {
                                panic!("header name")
                            };
                            (name.as_bytes().to_vec(), hex(&pair[1]))
                        }
                        other => panic!("header: {other:?}"),
                    })
                    .collect(),
                None | Some(Json::Null) => Vec::new(),
                other => panic!("headers: {other:?}"),
            };
            (
                num("offset"),
                num("timestamp"),
                hex(m.get("key").unwrap_or(&Json::Null)),
                hex(m.get("value").unwrap_or(&Json::Null)),
                headers,
            )
        })
        .collect()
}

fn fixtures_dir() -> PathBuf {
    std::env::var_os("RKAFKA_LIBRDKAFKA_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/librdkafka"),
        PathBuf::from,
    )
}

#[test]
fn librdkafka_batches_decode_to_the_expected_records() {
    let dir = fixtures_dir();
    if !dir.is_dir() {
        eprintln!("no librdkafka fixtures at {}: skipped", dir.display());
        return;
    }
    for codec in CODECS {
        let bin = std::fs::read(dir.join(format!("{codec}.bin")))
            .unwrap_or_else(|e| panic!("{codec}.bin: {e}"));
        let json = std::fs::read(dir.join(format!("{codec}.json")))
            .unwrap_or_else(|e| panic!("{codec}.json: {e}"));
        let want = expected(&Parser { s: &json, i: 0 }.value());

        let mut it = FetchBatches::new(Bytes::from(bin));
        let mut got: Vec<Flat> = Vec::new();
        let mut next_offset = 0;
        for batch in it.by_ref() {
            let batch = batch.unwrap_or_else(|e| panic!("{codec}: {e}"));
            next_offset = batch.header.next_offset();
            if batch.header.is_control() {
                continue;
            }
            for r in batch.records() {
                let r = r.unwrap_or_else(|e| panic!("{codec}: {e}"));
                got.push((
                    r.offset(),
                    r.timestamp(),
                    r.key().map(<[u8]>::to_vec),
                    r.value().map(<[u8]>::to_vec),
                    r.headers()
                        .map(|h| (h.key().to_vec(), h.value().map(<[u8]>::to_vec)))
                        .collect(),
                ));
            }
        }
        assert!(!got.is_empty(), "{codec}: no records decoded");
        // A fetch payload may stop inside a batch; the fixture may list
        // records past it only when the payload ends with a partial batch.
        let covered: Vec<Flat> = want.iter().filter(|r| r.0 < next_offset).cloned().collect();
        if covered.len() < want.len() {
            assert!(
                it.incomplete().is_some(),
                "{codec}: {} expected records missing and no partial batch",
                want.len() - covered.len()
            );
        }
        assert_eq!(got.len(), covered.len(), "{codec}: record count");
        for (g, w) in got.iter().zip(&covered) {
            assert_eq!(g, w, "{codec}: record at offset {}", w.0);
        }
    }
}
