//! The share session with one broker: its epoch and partition set.
//!
//! A plain state machine (no I/O): the task asks it what the next
//! ShareFetch/ShareAcknowledge must carry and tells it how the request
//! ended. Invariants it keeps:
//! - epochs run 0, 1, …, `i32::MAX`, then 1 again (never back to 0 by
//!   wrapping); ShareFetch and ShareAcknowledge share the counter;
//! - a session error (122/123/133) or a lost connection resets to 0, which
//!   opens a new session listing every wanted partition;
//! - acknowledgements never ride at epoch 0 (the broker rejects them);
//! - partitions the broker added because they carried acks are remembered
//!   and forgotten later if they are no longer wanted;
//! - at most one request is in flight (the task checks `in_flight`).

use std::collections::BTreeSet;

use rkafka_protocol::ErrorCode;
use uuid::Uuid;

/// A topic id and partition: how share requests name partitions.
pub(crate) type Tip = (Uuid, i32);

/// The epoch that closes a session.
pub(crate) const CLOSE_EPOCH: i32 = -1;

/// One broker's session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    epoch: i32,
    /// What the broker holds in the session (as far as we know).
    partitions: BTreeSet<Tip>,
    /// A request is outstanding: nothing else may be sent.
    pub in_flight: bool,
    /// Closed with epoch -1: never used again.
    closed: bool,
}

/// What one fetch request must list about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchPlan {
    pub epoch: i32,
    /// `Topics`: partitions added (all of them at epoch 0) plus those with acks.
    pub topics: BTreeSet<Tip>,
    /// `ForgottenTopicsData`.
    pub forgotten: BTreeSet<Tip>,
    /// Whether acks may ride on this request (not at epoch 0).
    pub acks_allowed: bool,
    /// The session set if the request succeeds.
    next_partitions: BTreeSet<Tip>,
}

impl Session {
    /// The epoch the next request carries.
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Whether the broker has a session for us (acks can be sent).
    pub fn is_open(&self) -> bool {
        self.epoch > 0 && !self.closed
    }

    /// Whether the session was closed with epoch -1.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the session's set differs from `wanted` (a request is due
    /// even without fetching, to add or forget partitions).
    pub fn needs_update(&self, wanted: &BTreeSet<Tip>) -> bool {
        self.epoch > 0 && self.partitions != *wanted
    }

    /// Plans a ShareFetch that wants `wanted` fetched and carries acks for
    /// `acked` partitions (ignored at epoch 0).
    pub fn plan_fetch(&self, wanted: &BTreeSet<Tip>, acked: &BTreeSet<Tip>) -> FetchPlan {
        if self.epoch == 0 {
            return FetchPlan {
                epoch: 0,
                topics: wanted.clone(),
                forgotten: BTreeSet::new(),
                acks_allowed: false,
                next_partitions: wanted.clone(),
            };
        }
        let added: BTreeSet<Tip> = wanted.difference(&self.partitions).copied().collect();
        let topics: BTreeSet<Tip> = added.union(acked).copied().collect();
        // Ack-only partitions the broker will add when it sees them in
        // Topics are forgotten in the same request when not wanted.
        let forgotten: BTreeSet<Tip> = self
            .partitions
            .union(acked)
            .filter(|tp| !wanted.contains(tp))
            .copied()
            .collect();
        FetchPlan {
            epoch: self.epoch,
            topics,
            forgotten,
            acks_allowed: true,
            next_partitions: wanted.clone(),
        }
    }

    /// A request at the current epoch was answered without a session
    /// error: the broker applied it and moved on.
    pub fn on_fetch_done(&mut self, plan: FetchPlan) {
        self.partitions = plan.next_partitions;
        self.advance();
    }

    /// A ShareAcknowledge at the current epoch was answered without a
    /// session error.
    pub fn on_ack_done(&mut self) {
        self.advance();
    }

    /// The answer's top-level error code, applied: a session error starts
    /// over at epoch 0. Returns whether it was a session error.
    pub fn on_error_code(&mut self, code: ErrorCode) -> bool {
        if is_session_error(code) {
            self.reset();
            true
        } else {
            false
        }
    }

    /// The connection broke or the request failed on the way: the broker
    /// drops the session with the connection, so start over.
    pub fn reset(&mut self) {
        self.epoch = 0;
        self.partitions.clear();
    }

    /// The epoch -1 request was sent (answered or not): the session is gone.
    pub fn mark_closed(&mut self) {
        self.closed = true;
        self.epoch = CLOSE_EPOCH;
        self.partitions.clear();
    }

    fn advance(&mut self) {
        if self.closed {
            return;
        }
        self.epoch = if self.epoch == i32::MAX {
            1
        } else {
            self.epoch + 1
        };
    }
}

/// SHARE_SESSION_NOT_FOUND, INVALID_SHARE_SESSION_EPOCH,
/// SHARE_SESSION_LIMIT_REACHED: the session must be opened again.
pub(crate) fn is_session_error(code: ErrorCode) -> bool {
    matches!(code.code(), 122 | 123 | 133)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(n: u128, p: i32) -> Tip {
        (Uuid::from_u128(n), p)
    }

    fn set(v: &[Tip]) -> BTreeSet<Tip> {
        v.iter().copied().collect()
    }

    #[test]
    fn opens_at_zero_with_everything_then_counts_up() {
        let mut s = Session::default();
        let wanted = set(&[tp(1, 0), tp(1, 1)]);
        let plan = s.plan_fetch(&wanted, &set(&[tp(1, 0)]));
        assert_eq!(plan.epoch, 0);
        assert_eq!(plan.topics, wanted);
        assert!(!plan.acks_allowed, "never acknowledge at epoch 0");
        s.on_fetch_done(plan);
        assert_eq!(s.epoch(), 1);
        let plan = s.plan_fetch(&wanted, &BTreeSet::new());
        assert_eq!(plan.epoch, 1);
        assert!(plan.topics.is_empty(), "nothing new to add");
        assert!(plan.forgotten.is_empty());
        s.on_fetch_done(plan);
        s.on_ack_done();
        assert_eq!(s.epoch(), 3, "fetch and acknowledge share one counter");
    }

    #[test]
    fn adds_and_forgets_incrementally() {
        let mut s = Session::default();
        let plan = s.plan_fetch(&set(&[tp(1, 0), tp(1, 1)]), &BTreeSet::new());
        s.on_fetch_done(plan);
        let plan = s.plan_fetch(&set(&[tp(1, 1), tp(2, 0)]), &BTreeSet::new());
        assert_eq!(plan.topics, set(&[tp(2, 0)]));
        assert_eq!(plan.forgotten, set(&[tp(1, 0)]));
        s.on_fetch_done(plan);
        assert!(!s.needs_update(&set(&[tp(1, 1), tp(2, 0)])));
        assert!(s.needs_update(&set(&[tp(1, 1)])));
    }

    #[test]
    fn ack_only_partitions_are_listed_and_forgotten() {
        let mut s = Session::default();
        s.on_fetch_done(s.plan_fetch(&set(&[tp(1, 0)]), &BTreeSet::new()));
        // tp(1,0) moved away but still has acks to send to this broker.
        let plan = s.plan_fetch(&BTreeSet::new(), &set(&[tp(1, 0), tp(3, 3)]));
        assert_eq!(plan.topics, set(&[tp(1, 0), tp(3, 3)]));
        assert_eq!(plan.forgotten, set(&[tp(1, 0), tp(3, 3)]));
        s.on_fetch_done(plan);
        assert!(!s.needs_update(&BTreeSet::new()));
    }

    #[test]
    fn session_errors_reset_to_zero_others_do_not() {
        let mut s = Session::default();
        s.on_fetch_done(s.plan_fetch(&set(&[tp(1, 0)]), &BTreeSet::new()));
        s.on_ack_done();
        assert_eq!(s.epoch(), 2);
        for code in [122, 123, 133] {
            s.on_fetch_done(s.plan_fetch(&set(&[tp(1, 0)]), &BTreeSet::new()));
            assert!(s.on_error_code(ErrorCode::from(code)));
            assert_eq!(s.epoch(), 0);
            assert!(!s.is_open());
            let plan = s.plan_fetch(&set(&[tp(1, 0)]), &BTreeSet::new());
            assert_eq!(
                plan.topics,
                set(&[tp(1, 0)]),
                "a new session lists everything"
            );
        }
        s.on_fetch_done(s.plan_fetch(&set(&[tp(1, 0)]), &BTreeSet::new()));
        assert!(!s.on_error_code(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        assert_eq!(s.epoch(), 1);
    }

    #[test]
    fn disconnect_resets() {
        let mut s = Session::default();
        s.on_fetch_done(s.plan_fetch(&set(&[tp(1, 0)]), &BTreeSet::new()));
        s.reset();
        assert_eq!(s.epoch(), 0);
    }

    #[test]
    fn wraps_from_max_to_one() {
        let mut s = Session {
            epoch: i32::MAX,
            ..Session::default()
        };
        s.on_ack_done();
        assert_eq!(s.epoch(), 1);
    }

    #[test]
    fn close_is_final() {
        let mut s = Session::default();
        s.on_fetch_done(s.plan_fetch(&set(&[tp(1, 0)]), &BTreeSet::new()));
        assert!(s.is_open());
        s.mark_closed();
        assert_eq!(s.epoch(), CLOSE_EPOCH);
        s.on_ack_done();
        assert_eq!(s.epoch(), CLOSE_EPOCH);
        assert!(!s.is_open());
        assert!(s.is_closed());
    }
}
