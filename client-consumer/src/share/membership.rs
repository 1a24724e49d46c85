//! Share-group membership: the ShareGroupHeartbeat state machine.
//!
//! Plain state, no I/O: the task asks [`Membership::next_heartbeat`] whether
//! a heartbeat is due and feeds back the answer ([`Membership::on_response`])
//! or the transport failure ([`Membership::on_failure`]); the machine says
//! what to do next ([`Step`]). The member id is generated once and kept
//! across fences and rejoins; the assignment is the full target assignment
//! by topic id (no revocation step: share partitions are not owned).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rkafka_protocol::messages::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};
use rkafka_protocol::ErrorCode;
use uuid::Uuid;

/// Where the member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Not subscribed to anything: no heartbeats.
    Unsubscribed,
    /// Sending the epoch-0 join.
    Joining,
    /// In the group; heartbeating at the broker's interval.
    Stable,
    /// A new assignment was taken: confirm it with an immediate heartbeat.
    Acknowledging,
    /// Sending the epoch -1 leave.
    Leaving,
    /// Left because `max.poll.interval.ms` passed; rejoins on the next poll.
    Stale,
    /// The group refused us for good; the error is surfaced on poll.
    Fatal(ErrorCode),
}

/// What the task must do after a heartbeat answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing special.
    Continue,
    /// The assignment changed: re-resolve topic ids and re-plan sessions.
    AssignmentChanged,
    /// Forget the coordinator and look it up again.
    Rediscover,
    /// The leave finished (or failed; a leave is not retried).
    Left,
    /// Unrecoverable: report on the next poll.
    Fatal(ErrorCode),
}

/// The membership state machine.
#[derive(Debug)]
pub(crate) struct Membership {
    group: String,
    member_id: String,
    rack: Option<String>,
    epoch: i32,
    state: State,
    subscription: BTreeSet<String>,
    /// The subscription last sent; `None` after a failure (resend everything).
    sent_subscription: Option<BTreeSet<String>>,
    rack_sent: bool,
    interval: Duration,
    next_at: Option<Instant>,
    in_flight: bool,
    /// The leave in progress was caused by the poll timer: become Stale.
    stale_after_leave: bool,
    /// The heartbeat in flight is the leave (an older one may still be
    /// outstanding when leaving starts; its answer must not end the leave).
    leave_in_flight: bool,
    /// An assignment was taken since the last (re)join.
    joined_once: bool,
    /// Full target assignment: topic id → partitions.
    assignment: BTreeMap<Uuid, BTreeSet<i32>>,
}

/// How long to wait after a transport failure or a retriable error.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

impl Membership {
    /// A member of `group` with a fresh random id.
    pub fn new(group: String, rack: Option<String>) -> Self {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        Self {
            group,
            member_id: id.to_string(),
            rack,
            epoch: 0,
            state: State::Unsubscribed,
            subscription: BTreeSet::new(),
            sent_subscription: None,
            rack_sent: false,
            interval: Duration::from_secs(5),
            next_at: None,
            in_flight: false,
            stale_after_leave: false,
            leave_in_flight: false,
            joined_once: false,
            assignment: BTreeMap::new(),
        }
    }

    /// The client-generated member id.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The current member epoch.
    #[cfg(test)]
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The full assignment (empty unless in the group).
    pub fn assignment(&self) -> &BTreeMap<Uuid, BTreeSet<i32>> {
        &self.assignment
    }

    /// Sets the subscription: joins when it becomes non-empty, leaves when it
    /// becomes empty.
    pub fn subscribe(&mut self, topics: BTreeSet<String>) {
        self.subscription = topics;
        if self.subscription.is_empty() {
            self.leave();
        } else if matches!(self.state, State::Unsubscribed | State::Stale) {
            self.join();
        } else {
            // The changed set goes out on the next heartbeat, now.
            self.next_at = None;
        }
    }

    /// The application polled: a stale member rejoins.
    pub fn on_poll(&mut self) {
        if self.state == State::Stale && !self.subscription.is_empty() {
            self.join();
        }
    }

    /// `max.poll.interval.ms` passed without a poll: leave and stay stale.
    pub fn poll_timer_expired(&mut self) {
        if matches!(
            self.state,
            State::Stable | State::Acknowledging | State::Joining
        ) {
            self.state = State::Leaving;
            self.assignment.clear();
            self.next_at = None;
            self.stale_after_leave = true;
        }
    }

    /// Starts leaving (epoch -1); the assignment is dropped at once.
    pub fn leave(&mut self) {
        match self.state {
            State::Stable | State::Acknowledging | State::Joining => {
                self.state = State::Leaving;
                self.next_at = None;
            }
            State::Leaving | State::Fatal(_) => {}
            State::Unsubscribed | State::Stale => self.state = State::Unsubscribed,
        }
        self.assignment.clear();
        self.stale_after_leave = false;
    }

    fn join(&mut self) {
        self.joined_once = false;
        self.state = State::Joining;
        self.epoch = 0;
        self.sent_subscription = None;
        self.rack_sent = false;
        self.next_at = None;
    }

    /// When the next heartbeat is due (`None`: nothing scheduled).
    pub fn due_at(&self, now: Instant) -> Option<Instant> {
        if self.in_flight {
            return None;
        }
        match self.state {
            State::Joining | State::Acknowledging | State::Leaving | State::Stable => {
                Some(self.next_at.unwrap_or(now))
            }
            _ => None,
        }
    }

    /// The heartbeat to send now, if one is due; marks it in flight.
    pub fn next_heartbeat(&mut self, now: Instant) -> Option<ShareGroupHeartbeatRequest> {
        if self.in_flight {
            return None;
        }
        if self.due_at(now).is_none_or(|t| now < t) {
            return None;
        }
        self.in_flight = true;
        self.leave_in_flight = self.state == State::Leaving;
        let epoch = if self.state == State::Leaving {
            -1
        } else {
            self.epoch
        };
        let subscription = if self.state == State::Leaving {
            None
        } else if self.state == State::Joining
            || self.sent_subscription.as_ref() != Some(&self.subscription)
        {
            self.sent_subscription = Some(self.subscription.clone());
            Some(self.subscription.iter().cloned().collect())
        } else {
            None
        };
        let rack = if self.rack_sent {
            None
        } else {
            self.rack.clone()
        };
        self.rack_sent = true;
        Some(
            ShareGroupHeartbeatRequest::default()
                .with_group_id(self.group.clone())
                .with_member_id(self.member_id.clone())
                .with_member_epoch(epoch)
                .with_rack_id(rack)
                .with_subscribed_topic_names(subscription),
        )
    }

    /// The heartbeat could not be sent or answered.
    pub fn on_failure(&mut self, now: Instant) -> Step {
        self.in_flight = false;
        if self.state == State::Leaving {
            if std::mem::take(&mut self.leave_in_flight) {
                return self.finish_leave();
            }
            self.next_at = None;
            return Step::Continue;
        }
        self.forget_sent();
        self.next_at = Some(now + RETRY_BACKOFF);
        Step::Continue
    }

    /// Applies a heartbeat answer.
    pub fn on_response(&mut self, resp: &ShareGroupHeartbeatResponse, now: Instant) -> Step {
        self.in_flight = false;
        let code = ErrorCode::from(resp.error_code);
        if self.state == State::Leaving {
            if std::mem::take(&mut self.leave_in_flight) {
                // A leave's answer is only logged (Java does the same).
                return self.finish_leave();
            }
            // An earlier heartbeat's answer: the leave goes out now.
            self.next_at = None;
            return Step::Continue;
        }
        if !code.is_ok() {
            return self.on_error(code, now);
        }
        if matches!(
            self.state,
            State::Unsubscribed | State::Stale | State::Fatal(_)
        ) {
            return Step::Continue;
        }
        if resp.member_epoch >= 0 {
            self.epoch = resp.member_epoch;
        }
        if resp.heartbeat_interval_ms > 0 {
            self.interval = Duration::from_millis(resp.heartbeat_interval_ms as u64);
        }
        self.next_at = Some(now + self.interval);
        self.state = State::Stable;
        let Some(assignment) = &resp.assignment else {
            return Step::Continue;
        };
        let mut full: BTreeMap<Uuid, BTreeSet<i32>> = BTreeMap::new();
        for t in &assignment.topic_partitions {
            full.entry(t.topic_id)
                .or_default()
                .extend(t.partitions.iter().copied().filter(|p| *p >= 0));
        }
        full.retain(|_, ps| !ps.is_empty());
        // Brokers may repeat an unchanged assignment in every answer; only a
        // change is reconciled and confirmed at once (else every answer
        // would trigger another heartbeat).
        if full == self.assignment && self.joined_once {
            return Step::Continue;
        }
        self.joined_once = true;
        self.state = State::Acknowledging;
        self.next_at = None;
        if full == self.assignment {
            return Step::Continue;
        }
        self.assignment = full;
        Step::AssignmentChanged
    }

    fn on_error(&mut self, code: ErrorCode, now: Instant) -> Step {
        self.forget_sent();
        match code.code() {
            // NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE: look it up again,
            // retry without waiting.
            16 | 15 => {
                self.next_at = None;
                Step::Rediscover
            }
            // COORDINATOR_LOAD_IN_PROGRESS and other retriable codes: back off.
            14 => {
                self.next_at = Some(now + RETRY_BACKOFF);
                Step::Continue
            }
            // FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID: rejoin with the same id.
            110 | 25 => {
                let changed = !self.assignment.is_empty();
                self.assignment.clear();
                self.join();
                if changed {
                    Step::AssignmentChanged
                } else {
                    Step::Continue
                }
            }
            // TOPIC_AUTHORIZATION_FAILED: surface it, keep the membership.
            29 => {
                self.next_at = Some(now + self.interval);
                Step::Fatal(code)
            }
            _ if code.is_retriable() => {
                self.next_at = Some(now + RETRY_BACKOFF);
                Step::Continue
            }
            _ => {
                self.state = State::Fatal(code);
                self.assignment.clear();
                Step::Fatal(code)
            }
        }
    }

    fn finish_leave(&mut self) -> Step {
        self.epoch = 0;
        self.assignment.clear();
        self.state = if self.stale_after_leave {
            State::Stale
        } else {
            State::Unsubscribed
        };
        self.stale_after_leave = false;
        Step::Left
    }

    fn forget_sent(&mut self) {
        self.sent_subscription = None;
        self.rack_sent = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};

    fn ok(epoch: i32, assignment: Option<Vec<(u128, Vec<i32>)>>) -> ShareGroupHeartbeatResponse {
        ShareGroupHeartbeatResponse::default()
            .with_member_epoch(epoch)
            .with_heartbeat_interval_ms(1000)
            .with_assignment(assignment.map(|a| {
                Assignment::default().with_topic_partitions(
                    a.into_iter()
                        .map(|(t, ps)| {
                            TopicPartitions::default()
                                .with_topic_id(Uuid::from_u128(t))
                                .with_partitions(ps)
                        })
                        .collect(),
                )
            }))
    }

    fn err(code: i16) -> ShareGroupHeartbeatResponse {
        ShareGroupHeartbeatResponse::default().with_error_code(code)
    }

    fn joined(now: Instant) -> Membership {
        let mut m = Membership::new("g".into(), None);
        m.subscribe(["t".to_owned()].into());
        let hb = m.next_heartbeat(now).expect("join is sent at once");
        assert_eq!(hb.member_epoch, 0);
        m.on_response(&ok(1, Some(vec![(7, vec![0, 1])])), now);
        m
    }

    #[test]
    fn join_sends_epoch_zero_with_subscription_and_a_uuid_member_id() {
        let now = Instant::now();
        let mut m = Membership::new("g".into(), Some("r1".into()));
        assert!(
            m.next_heartbeat(now).is_none(),
            "nothing before subscribing"
        );
        m.subscribe(["b".to_owned(), "a".to_owned()].into());
        let hb = m.next_heartbeat(now).unwrap();
        assert_eq!(hb.member_epoch, 0);
        assert_eq!(
            hb.subscribed_topic_names,
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(hb.rack_id.as_deref(), Some("r1"));
        assert!(Uuid::parse_str(&hb.member_id).is_ok());
        assert!(hb.member_id.len() <= 36);
        assert!(m.next_heartbeat(now).is_none(), "one heartbeat in flight");
    }

    #[test]
    fn assignment_is_full_and_acknowledged_at_once_then_interval() {
        let now = Instant::now();
        let mut m = joined(now);
        assert_eq!(m.assignment().get(&Uuid::from_u128(7)).unwrap().len(), 2);
        assert_eq!(m.state(), State::Acknowledging);
        let hb = m
            .next_heartbeat(now)
            .expect("immediate acknowledging heartbeat");
        assert_eq!(hb.member_epoch, 1);
        assert_eq!(
            hb.subscribed_topic_names, None,
            "unchanged subscription is not resent"
        );
        assert_eq!(hb.rack_id, None);
        // A full assignment replaces the old one (not a delta).
        let step = m.on_response(&ok(2, Some(vec![(8, vec![3])])), now);
        assert_eq!(step, Step::AssignmentChanged);
        assert!(m.assignment().get(&Uuid::from_u128(7)).is_none());
        m.next_heartbeat(now).unwrap();
        assert_eq!(m.on_response(&ok(2, None), now), Step::Continue);
        assert_eq!(m.state(), State::Stable);
        assert!(m.next_heartbeat(now).is_none(), "waits for the interval");
        assert!(m
            .next_heartbeat(now + Duration::from_millis(1001))
            .is_some());
    }

    #[test]
    fn a_repeated_assignment_does_not_trigger_another_heartbeat() {
        let now = Instant::now();
        let mut m = joined(now);
        m.next_heartbeat(now).unwrap();
        let same = ok(1, Some(vec![(7, vec![0, 1])]));
        assert_eq!(m.on_response(&same, now), Step::Continue);
        assert_eq!(m.state(), State::Stable);
        assert!(m.next_heartbeat(now).is_none(), "waits for the interval");
        let later = now + Duration::from_millis(1001);
        m.next_heartbeat(later).unwrap();
        assert_eq!(m.on_response(&same, later), Step::Continue);
        assert!(m.next_heartbeat(later).is_none());
    }

    #[test]
    fn fenced_rejoins_with_same_id_at_epoch_zero() {
        let now = Instant::now();
        let mut m = joined(now);
        let id = m.member_id().to_owned();
        m.next_heartbeat(now).unwrap();
        for code in [110, 25] {
            let step = m.on_response(&err(code), now);
            assert!(m.assignment().is_empty());
            assert!(matches!(step, Step::AssignmentChanged | Step::Continue));
            let hb = m.next_heartbeat(now).unwrap();
            assert_eq!(hb.member_epoch, 0);
            assert_eq!(hb.member_id, id);
            assert!(
                hb.subscribed_topic_names.is_some(),
                "a rejoin resends the subscription"
            );
        }
    }

    #[test]
    fn coordinator_errors_rediscover_and_retry_at_once() {
        let now = Instant::now();
        let mut m = joined(now);
        m.next_heartbeat(now).unwrap();
        assert_eq!(m.on_response(&err(16), now), Step::Rediscover);
        assert!(m.next_heartbeat(now).is_some());
        assert_eq!(m.on_response(&err(15), now), Step::Rediscover);
        m.next_heartbeat(now).unwrap();
        assert_eq!(m.on_response(&err(14), now), Step::Continue);
        assert!(
            m.next_heartbeat(now).is_none(),
            "load in progress backs off"
        );
        assert_eq!(m.epoch(), 1, "the epoch survives coordinator errors");
    }

    #[test]
    fn fatal_errors_stop_heartbeats() {
        let now = Instant::now();
        let mut m = joined(now);
        m.next_heartbeat(now).unwrap();
        let step = m.on_response(&err(81), now);
        assert_eq!(step, Step::Fatal(ErrorCode::from(81)));
        assert!(m.next_heartbeat(now + Duration::from_secs(60)).is_none());
    }

    #[test]
    fn leave_is_epoch_minus_one_and_final() {
        let now = Instant::now();
        let mut m = joined(now);
        m.leave();
        assert!(m.assignment().is_empty());
        let hb = m.next_heartbeat(now).unwrap();
        assert_eq!(hb.member_epoch, -1);
        assert_eq!(m.on_response(&err(25), now), Step::Left);
        assert_eq!(m.state(), State::Unsubscribed);
        assert!(m.next_heartbeat(now + Duration::from_secs(60)).is_none());
    }

    #[test]
    fn an_older_heartbeat_answer_does_not_end_the_leave() {
        let now = Instant::now();
        let mut m = joined(now);
        m.next_heartbeat(now).unwrap();
        m.leave();
        assert!(m.next_heartbeat(now).is_none(), "one in flight");
        assert_eq!(m.on_response(&ok(1, None), now), Step::Continue);
        let hb = m.next_heartbeat(now).unwrap();
        assert_eq!(hb.member_epoch, -1);
        assert_eq!(m.on_failure(now), Step::Left);
    }

    #[test]
    fn poll_timer_leaves_then_next_poll_rejoins() {
        let now = Instant::now();
        let mut m = joined(now);
        m.poll_timer_expired();
        let hb = m.next_heartbeat(now).unwrap();
        assert_eq!(hb.member_epoch, -1);
        assert_eq!(m.on_response(&ok(-1, None), now), Step::Left);
        assert_eq!(m.state(), State::Stale);
        assert!(m.next_heartbeat(now + Duration::from_secs(60)).is_none());
        m.on_poll();
        let hb = m.next_heartbeat(now).unwrap();
        assert_eq!(hb.member_epoch, 0);
    }

    #[test]
    fn transport_failure_resends_everything() {
        let now = Instant::now();
        let mut m = joined(now);
        m.next_heartbeat(now).unwrap();
        m.on_failure(now);
        let hb = m.next_heartbeat(now + RETRY_BACKOFF).unwrap();
        assert_eq!(hb.member_epoch, 1);
        assert!(hb.subscribed_topic_names.is_some());
    }
}
