//! A consumer's group membership, as a transactional producer needs it.
//!
//! `send_offsets_to_transaction` commits offsets on behalf of a consumer
//! group; with KIP-447 the group coordinator fences a zombie by checking the
//! generation and member id the producer passes along. The type lives here,
//! in the core, so the producer does not depend on the consumer crate: the
//! consumer hands one out, the producer takes one in.

/// The group membership a transactional offset commit is made under
/// (Java's `ConsumerGroupMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation the member joined in; -1 when unknown (no fencing by
    /// generation, as for a producer given only a group id).
    pub generation_id: i32,
    /// The member id the coordinator assigned; empty when unknown.
    pub member_id: String,
    /// `group.instance.id` for a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata naming only the group: the coordinator then checks no
    /// generation or member (the pre-KIP-447 behaviour).
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_only_metadata_disables_fencing_fields() {
        let m = ConsumerGroupMetadata::new("g");
        assert_eq!(m.group_id, "g");
        assert_eq!(m.generation_id, -1);
        assert!(m.member_id.is_empty());
        assert!(m.group_instance_id.is_none());
    }
}
