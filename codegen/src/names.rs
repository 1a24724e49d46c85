//! Rust names and doc text for spec names.

/// `FetchRequest` → `fetch_request`, `KRaftVersion` → `k_raft_version`,
/// `ProducerIDs` → `producer_ids`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let plural_s =
                next_lower && chars.get(i + 1) == Some(&'s') && chars.get(i + 2).is_none();
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower && !plural_s)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A field identifier, raw where the name is a Rust keyword.
pub fn field_ident(spec_name: &str) -> String {
    let s = snake(spec_name);
    if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

/// The setter name for a field (`with_type` for `r#type`).
pub fn setter(spec_name: &str) -> String {
    format!("with_{}", snake(spec_name))
}

/// Escapes spec prose for rustdoc: brackets would become intra-doc links and
/// angle brackets HTML.
pub fn doc_text(s: &str) -> String {
    s.trim()
        .replace('\\', "\\\\")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases() {
        assert_eq!(snake("FetchRequest"), "fetch_request");
        assert_eq!(snake("KRaftVersion"), "k_raft_version");
        assert_eq!(snake("ThrottleTimeMs"), "throttle_time_ms");
        assert_eq!(snake("ProducerIDs"), "producer_ids");
        assert_eq!(snake("TopicId"), "topic_id");
        assert_eq!(field_ident("Type"), "r#type");
    }
}
