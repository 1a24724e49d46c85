//! The resolved model the emitters work from: specs with types resolved,
//! version ranges clipped to the message's valid versions, defaults parsed and
//! every rule of the format checked. Anything unexpected is an error here.

use std::collections::BTreeMap;

use crate::spec::{Field, Spec, SpecKind, Versions};

/// A field type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Bool,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    F64,
    String,
    Bytes,
    Records,
    Uuid,
    Struct(String),
    Array(Box<Ty>),
}

impl Ty {
    fn parse(s: &str) -> Ty {
        match s {
            "bool" => Ty::Bool,
            "int8" => Ty::I8,
            "int16" => Ty::I16,
            "uint16" => Ty::U16,
            "int32" => Ty::I32,
            "uint32" => Ty::U32,
            "int64" => Ty::I64,
            "float64" => Ty::F64,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            "uuid" => Ty::Uuid,
            _ => match s.strip_prefix("[]") {
                Some(inner) => Ty::Array(Box::new(Ty::parse(inner))),
                None => Ty::Struct(s.to_string()),
            },
        }
    }

    /// The Rust type of a non-null value.
    pub fn rust(&self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::I8 => "i8".into(),
            Ty::I16 => "i16".into(),
            Ty::U16 => "u16".into(),
            Ty::I32 => "i32".into(),
            Ty::U32 => "u32".into(),
            Ty::I64 => "i64".into(),
            Ty::F64 => "f64".into(),
            Ty::String => "String".into(),
            Ty::Bytes | Ty::Records => "Bytes".into(),
            Ty::Uuid => "Uuid".into(),
            Ty::Struct(n) => n.clone(),
            Ty::Array(t) => format!("Vec<{}>", t.rust()),
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Ty::I8 | Ty::I16 | Ty::U16 | Ty::I32 | Ty::U32 | Ty::I64
        )
    }

    fn can_be_null(&self) -> bool {
        matches!(
            self,
            Ty::String | Ty::Bytes | Ty::Records | Ty::Array(_) | Ty::Struct(_)
        )
    }
}

/// A field's default value, already checked against its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Default {
    /// Zero, false, empty string/bytes/array, nil uuid, default struct.
    Empty,
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// A resolved field.
#[derive(Debug, Clone)]
pub struct FieldModel {
    pub spec_name: String,
    pub ty: Ty,
    /// Versions the field is present in (within the message's valid versions).
    pub present: Versions,
    /// Present versions in which the field is a tagged field.
    pub tagged: Versions,
    pub tag: Option<u32>,
    /// Present versions in which the field may be null.
    pub nullable: Versions,
    /// Whether the Rust type is an `Option` (nullable in some version).
    pub optional: bool,
    pub ignorable: bool,
    pub default: Default,
    /// `Some(false)` when the field is never written compactly (header client id).
    pub force_classic: bool,
    pub spec: Field,
}

impl FieldModel {
    /// Present versions in which the field is a regular (untagged) field.
    pub fn untagged(&self) -> Versions {
        if self.tagged.is_none() {
            self.present
        } else if self.tagged.min <= self.present.min {
            Versions::NONE
        } else {
            Versions {
                min: self.present.min,
                max: self.tagged.min - 1,
            }
        }
    }

    pub fn rust_type(&self) -> String {
        if self.optional {
            format!("Option<{}>", self.ty.rust())
        } else {
            self.ty.rust()
        }
    }
}

/// A resolved struct: the message itself, an inline struct or a common struct.
#[derive(Debug, Clone)]
pub struct StructModel {
    pub name: String,
    /// The `about` of the field that introduced it.
    pub about: Option<String>,
    pub fields: Vec<FieldModel>,
    /// Whether some field holds it as a nullable struct.
    pub nullable_used: bool,
}

/// A resolved spec.
#[derive(Debug)]
pub struct MessageModel {
    pub name: String,
    pub kind: SpecKind,
    pub api_key: Option<i16>,
    pub listeners: Vec<String>,
    pub valid: Versions,
    pub flexible: Versions,
    pub latest_version_unstable: bool,
    /// The top-level struct first, then nested structs in definition order.
    pub structs: Vec<StructModel>,
}

impl MessageModel {
    pub fn resolve(spec: Spec) -> Result<MessageModel, String> {
        let ctx = |e: String| format!("{}: {e}", spec.name);
        if matches!(spec.kind, SpecKind::Request | SpecKind::Response) && spec.api_key.is_none() {
            return Err(ctx("request/response without apiKey".into()));
        }
        let valid = spec.valid_versions;
        let flexible = spec
            .flexible_versions
            .ok_or_else(|| ctx("missing flexibleVersions".into()))
            .or_else(|e| {
                if valid.is_none() {
                    Ok(Versions::NONE)
                } else {
                    Err(e)
                }
            })?
            .intersect(valid);
        if !flexible.is_none() && flexible.max != valid.max {
            return Err(ctx(
                "flexible versions must run to the last valid version".into()
            ));
        }
        let mut r = Resolver {
            valid,
            flexible,
            structs: BTreeMap::new(),
            order: Vec::new(),
            common: spec
                .common_structs
                .iter()
                .map(|c| (c.name.clone(), c.fields.clone()))
                .collect(),
        };
        let top = r.resolve_fields(&spec.fields).map_err(ctx)?;
        for c in &spec.common_structs {
            if !r.structs.contains_key(&c.name) {
                return Err(ctx(format!("common struct {} is never used", c.name)));
            }
        }
        let mut structs = vec![StructModel {
            name: spec.name.clone(),
            about: None,
            fields: top,
            nullable_used: false,
        }];
        for name in r.order {
            structs.push(r.structs.remove(&name).expect("resolved struct"));
        }
        let names: Vec<&str> = structs.iter().map(|s| s.name.as_str()).collect();
        for reserved in RESERVED_TYPE_NAMES {
            if names.contains(reserved) {
                return Err(ctx(format!("struct name {reserved} would shadow a type")));
            }
        }
        Ok(MessageModel {
            name: spec.name,
            kind: spec.kind,
            api_key: spec.api_key,
            listeners: spec.listeners.unwrap_or_default(),
            valid,
            flexible,
            latest_version_unstable: spec.latest_version_unstable,
            structs,
        })
    }
}

const RESERVED_TYPE_NAMES: &[&str] = &[
    "Option",
    "Result",
    "Vec",
    "String",
    "Bytes",
    "BytesMut",
    "Uuid",
    "Box",
    "Wire",
    "Message",
    "Request",
    "RawTaggedField",
    "VersionRange",
    "EncodeError",
    "DecodeError",
    "ApiKey",
    "Self",
];

struct Resolver {
    valid: Versions,
    flexible: Versions,
    structs: BTreeMap<String, StructModel>,
    order: Vec<String>,
    common: BTreeMap<String, Vec<Field>>,
}

impl Resolver {
    fn resolve_fields(&mut self, fields: &[Field]) -> Result<Vec<FieldModel>, String> {
        let mut out: Vec<FieldModel> = Vec::new();
        let mut tags = BTreeMap::new();
        for f in fields {
            let m = self
                .resolve_field(f)
                .map_err(|e| format!("field {}: {e}", f.name))?;
            if out.iter().any(|o| o.spec_name == m.spec_name) {
                return Err(format!("duplicate field {}", m.spec_name));
            }
            if let Some(tag) = m.tag {
                if let Some(prev) = tags.insert(tag, m.spec_name.clone()) {
                    return Err(format!("tag {tag} used by {prev} and {}", m.spec_name));
                }
            }
            out.push(m);
        }
        Ok(out)
    }

    fn resolve_field(&mut self, f: &Field) -> Result<FieldModel, String> {
        let ty = Ty::parse(&f.ty);
        let present = f.versions.intersect(self.valid);
        let nullable = f
            .nullable_versions
            .unwrap_or(Versions::NONE)
            .intersect(present);
        if f.nullable_versions.is_some() && !ty.can_be_null() {
            return Err(format!("type {} cannot be nullable", f.ty));
        }
        let tagged = match (f.tagged_versions, f.tag) {
            (None, None) => Versions::NONE,
            (Some(tv), Some(_)) => {
                if !tv.is_open() {
                    return Err("tagged versions must be open-ended".into());
                }
                if !self.flexible.covers(tv.intersect(self.valid)) {
                    return Err("tagged versions outside flexible versions".into());
                }
                tv.intersect(present)
            }
            _ => return Err("tag and taggedVersions go together".into()),
        };
        let force_classic = match f.flexible_versions {
            None => false,
            Some(v) if v.is_none() => true,
            Some(v) => return Err(format!("unsupported field flexibleVersions {v}")),
        };
        if force_classic && !matches!(ty, Ty::String) {
            return Err("field flexibleVersions only supported on strings".into());
        }
        // Resolve nested struct types (inline or common).
        let elem = match &ty {
            Ty::Array(inner) => inner.as_ref(),
            t => t,
        };
        if let Ty::Array(_) = elem {
            return Err("arrays of arrays are not in the format".into());
        }
        if let Ty::Struct(name) = elem {
            let defs = match (&f.fields, self.common.get(name)) {
                (Some(fs), None) => fs.clone(),
                (None, Some(fs)) => fs.clone(),
                (Some(_), Some(_)) => return Err(format!("{name} is both inline and common")),
                (None, None) => {
                    if self.structs.contains_key(name) {
                        Vec::new()
                    } else {
                        return Err(format!("unknown struct type {name}"));
                    }
                }
            };
            if !self.structs.contains_key(name) {
                let fields = self.resolve_fields(&defs)?;
                self.structs.insert(
                    name.clone(),
                    StructModel {
                        name: name.clone(),
                        about: f.about.clone(),
                        fields,
                        nullable_used: false,
                    },
                );
                self.order.push(name.clone());
            } else if f.fields.is_some() {
                return Err(format!("struct {name} defined twice"));
            }
            if matches!(ty, Ty::Struct(_)) && !nullable.is_none() {
                self.structs.get_mut(name).expect("struct").nullable_used = true;
            }
        } else if f.fields.is_some() {
            return Err("fields given for a non-struct type".into());
        }
        let default = parse_default(f, &ty, !nullable.is_none())?;
        if f.map_key
            && !matches!(
                ty,
                Ty::String | Ty::I32 | Ty::I16 | Ty::I64 | Ty::Uuid | Ty::I8
            )
        {
            return Err("mapKey on a type that cannot be a key".into());
        }
        if f.zero_copy && !matches!(ty, Ty::Bytes | Ty::Records) {
            return Err("zeroCopy on a non-bytes field".into());
        }
        Ok(FieldModel {
            spec_name: f.name.clone(),
            optional: f.nullable_versions.is_some(),
            ty,
            present,
            tagged,
            tag: f.tag,
            nullable,
            ignorable: f.ignorable,
            default,
            force_classic,
            spec: f.clone(),
        })
    }
}

fn parse_default(f: &Field, ty: &Ty, nullable: bool) -> Result<Default, String> {
    let Some(v) = &f.default else {
        return Ok(Default::Empty);
    };
    let s = match v {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        other => return Err(format!("unsupported default {other}")),
    };
    if s == "null" {
        return if nullable {
            Ok(Default::Null)
        } else {
            Err("default null on a field that is never nullable".into())
        };
    }
    match ty {
        t if t.is_integer() => {
            let (neg, digits) = match s.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, s.as_str()),
            };
            let parsed = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(hex) => i64::from_str_radix(hex, 16),
                None => digits.parse::<i64>(),
            }
            .map_err(|e| format!("bad integer default {s}: {e}"))?;
            let n = if neg { -parsed } else { parsed };
            let (lo, hi) = match t {
                Ty::I8 => (i8::MIN as i64, i8::MAX as i64),
                Ty::I16 => (i16::MIN as i64, i16::MAX as i64),
                Ty::U16 => (0, u16::MAX as i64),
                Ty::I32 => (i32::MIN as i64, i32::MAX as i64),
                Ty::U32 => (0, u32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            if n < lo || n > hi {
                return Err(format!("default {s} out of range for {}", t.rust()));
            }
            Ok(if n == 0 {
                Default::Empty
            } else {
                Default::Int(n)
            })
        }
        Ty::F64 => {
            let x: f64 = s
                .parse()
                .map_err(|e| format!("bad float default {s}: {e}"))?;
            Ok(if x == 0.0 {
                Default::Empty
            } else {
                Default::Float(x)
            })
        }
        Ty::Bool => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(Default::Bool(true)),
            "false" => Ok(Default::Empty),
            _ => Err(format!("bad bool default {s}")),
        },
        Ty::String => Ok(if s.is_empty() {
            Default::Empty
        } else {
            Default::Str(s)
        }),
        _ if s.is_empty() => Ok(Default::Empty),
        _ => Err(format!("unsupported default {s} for type {}", f.ty)),
    }
}
