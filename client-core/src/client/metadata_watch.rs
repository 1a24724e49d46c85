//! Following the metadata from a hot path without a lock per look.

use std::sync::Arc;

use tokio::sync::watch;

use crate::metadata::{ClusterMetadata, ClusterView};

/// A private follower of a [`Client`](crate::Client)'s metadata.
///
/// [`Client::metadata`](crate::Client::metadata) takes a read lock and two
/// reference counts on every call; code that looks at the metadata for
/// every record (a producer's partitioner) keeps one of these instead and
/// calls [`MetadataWatch::update`], which costs one atomic load while
/// nothing changed.
#[derive(Debug, Clone)]
pub struct MetadataWatch {
    rx: watch::Receiver<Arc<ClusterView>>,
    current: Arc<ClusterMetadata>,
    generation: u64,
}

impl MetadataWatch {
    pub(crate) fn new(mut rx: watch::Receiver<Arc<ClusterView>>) -> Self {
        let current = rx.borrow_and_update().metadata.clone();
        Self {
            rx,
            current,
            generation: 0,
        }
    }

    /// A watch of one snapshot that never changes: for tests and tools
    /// that have no client.
    pub fn fixed(metadata: Arc<ClusterMetadata>) -> Self {
        let (_, rx) = watch::channel(Arc::new(ClusterView {
            metadata,
            ..ClusterView::default()
        }));
        Self::new(rx)
    }

    /// Takes the newest snapshot if the client published one since the last
    /// call; returns whether the metadata changed (a new generation).
    pub fn update(&mut self) -> bool {
        if !self.rx.has_changed().unwrap_or(false) {
            return false;
        }
        let latest = self.rx.borrow_and_update().metadata.clone();
        // The view also changes for coordinators and connections.
        if Arc::ptr_eq(&latest, &self.current) {
            return false;
        }
        self.current = latest;
        self.generation += 1;
        true
    }

    /// The snapshot as of the last [`MetadataWatch::update`].
    pub fn current(&self) -> &Arc<ClusterMetadata> {
        &self.current
    }

    /// Counts the snapshots taken: equal generations, same snapshot.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_metadata_snapshot_is_a_new_generation() {
        let first = Arc::new(ClusterView::default());
        let (tx, rx) = watch::channel(first.clone());
        let mut w = MetadataWatch::new(rx);
        assert!(!w.update());
        // A new view with the same metadata (a connection changed).
        tx.send_replace(Arc::new(ClusterView {
            rebootstraps: 1,
            ..(*first).clone()
        }));
        assert!(!w.update());
        assert_eq!(w.generation(), 0);
        let next = Arc::new(ClusterView {
            metadata: Arc::new(ClusterMetadata::default()),
            ..(*first).clone()
        });
        tx.send_replace(next.clone());
        assert!(w.update());
        assert_eq!(w.generation(), 1);
        assert!(Arc::ptr_eq(w.current(), &next.metadata));
    }
}
