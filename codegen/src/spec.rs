//! The JSON message spec format, parsed strictly: an unknown key anywhere is
//! an error, so a spec feature this generator does not know cannot be skipped
//! silently.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// One spec file (a request, response, header or data struct).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    pub api_key: Option<i16>,
    #[serde(rename = "type")]
    pub kind: SpecKind,
    pub listeners: Option<Vec<String>>,
    pub name: String,
    pub valid_versions: Versions,
    pub flexible_versions: Option<Versions>,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub common_structs: Vec<CommonStruct>,
    #[serde(default)]
    pub latest_version_unstable: bool,
}

/// What a spec file describes.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SpecKind {
    Request,
    Response,
    Header,
    Data,
}

/// A struct shared by several fields of one spec.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommonStruct {
    pub name: String,
    /// Parsed so a malformed range fails; the fields that use the struct
    /// carry the versions that matter.
    #[allow(dead_code)]
    pub versions: Versions,
    pub fields: Vec<Field>,
}

/// One field of a struct.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub versions: Versions,
    pub about: Option<String>,
    pub fields: Option<Vec<Field>>,
    pub default: Option<serde_json::Value>,
    pub entity_type: Option<String>,
    pub nullable_versions: Option<Versions>,
    #[serde(default)]
    pub ignorable: bool,
    #[serde(default)]
    pub map_key: bool,
    pub tagged_versions: Option<Versions>,
    pub tag: Option<u32>,
    #[serde(default)]
    pub zero_copy: bool,
    pub flexible_versions: Option<Versions>,
}

/// A version range as written in specs: "3", "0-5", "2+", or "none".
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub min: i16,
    pub max: i16,
}

impl Versions {
    pub const NONE: Versions = Versions { min: 0, max: -1 };

    pub fn is_none(&self) -> bool {
        self.min > self.max
    }

    pub fn is_open(&self) -> bool {
        self.max == i16::MAX
    }

    pub fn intersect(&self, other: Versions) -> Versions {
        let v = Versions {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        };
        if v.is_none() {
            Versions::NONE
        } else {
            v
        }
    }

    /// Whether `self` holds every version of `within`.
    pub fn covers(&self, within: Versions) -> bool {
        within.is_none() || (self.min <= within.min && within.max <= self.max)
    }

    fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        let num = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version '{s}': {e}"))
        };
        if s == "none" {
            Ok(Versions::NONE)
        } else if let Some(min) = s.strip_suffix('+') {
            Ok(Versions {
                min: num(min)?,
                max: i16::MAX,
            })
        } else if let Some((a, b)) = s.split_once('-') {
            let v = Versions {
                min: num(a)?,
                max: num(b)?,
            };
            if v.is_none() {
                return Err(format!("empty version range '{s}'"));
            }
            Ok(v)
        } else {
            let v = num(s)?;
            Ok(Versions { min: v, max: v })
        }
    }
}

impl fmt::Debug for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            f.write_str("none")
        } else if self.is_open() {
            write!(f, "{}+", self.min)
        } else if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

impl<'de> Deserialize<'de> for Versions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Versions::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Reads one spec file. Kafka's specs carry `//` line comments (the license
/// header), which JSON does not allow, so whole-line comments are dropped first.
pub fn load(path: &Path) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&json).map_err(|e| format!("{}: {e}", path.display()))
}
