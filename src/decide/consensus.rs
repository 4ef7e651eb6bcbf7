//! The count of votes: from every prober's fresh vote on a group, the
//! health each target has *by consensus*, and which prober writes.
//!
//! Per target, over the fresh votes (unhealthy probers publish none):
//! - healthy when at least `quorum` votes say healthy;
//! - else down when at least `quorum` say down;
//! - else degraded when at least `quorum` say healthy or degraded;
//! - else unknown: no quorum, so `decide` changes nothing for it.
//!
//! Healthy is tried first: with a small quorum both could hold, and then
//! keeping traffic where it is wins. The writer is the first prober, in the
//! configured order, whose vote is fresh; every prober computes the same
//! answer from the same votes.

use crate::model::consensus::{ConsensusSettings, Vote};
use crate::model::health::Health;

/// One prober's vote as read, with whether it is fresh.
#[derive(Debug, Clone)]
pub struct Ballot {
    /// Place in `[consensus] probers`.
    pub prober: usize,
    pub vote: Vote,
    pub fresh: bool,
}

/// The outcome of a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Per target, in config order.
    pub health: Vec<Health>,
    /// Targets with no quorum either way.
    pub no_quorum: Vec<usize>,
    /// Probers whose fresh vote was counted, in order.
    pub voters: Vec<usize>,
    /// The prober that applies the plan: the first fresh voter.
    pub writer: Option<usize>,
}

/// Count the fresh votes of `ballots` on a group of `targets` targets.
/// Votes with another digest than `digest` (another target list) are not
/// counted.
pub fn tally(
    settings: &ConsensusSettings,
    digest: &str,
    targets: usize,
    ballots: &[Ballot],
) -> Tally {
    let mut voters: Vec<usize> = ballots
        .iter()
        .filter(|b| b.fresh && b.vote.digest == digest && b.vote.targets.len() == targets)
        // An all-unknown vote is an unhealthy prober's: it saw nothing and
        // must not write.
        .filter(|b| b.vote.targets.iter().any(|t| t.0 != Health::Unknown))
        .map(|b| b.prober)
        .collect();
    voters.sort_unstable();
    voters.dedup();
    let counted: Vec<&Ballot> = ballots
        .iter()
        .filter(|b| voters.contains(&b.prober) && b.fresh && b.vote.digest == digest)
        .collect();
    let q = settings.quorum.max(1);
    let mut health = Vec::with_capacity(targets);
    let mut no_quorum = Vec::new();
    for i in 0..targets {
        let says = |h: Health| counted.iter().filter(|b| b.vote.targets[i].0 == h).count();
        let (up, down, degraded) = (
            says(Health::Healthy),
            says(Health::Down),
            says(Health::Degraded),
        );
        let h = if up >= q {
            Health::Healthy
        } else if down >= q {
            Health::Down
        } else if up + degraded >= q {
            Health::Degraded
        } else {
            no_quorum.push(i);
            Health::Unknown
        };
        health.push(h);
    }
    Tally {
        health,
        no_quorum,
        writer: voters.first().copied(),
        voters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use std::time::Duration;

    use crate::model::consensus::NoQuorum;

    fn settings(quorum: usize) -> ConsensusSettings {
        ConsensusSettings {
            probers: vec!["a".into(), "b".into(), "c".into()],
            quorum,
            on_no_quorum: NoQuorum::Hold,
            stale_after: Duration::from_secs(180),
            heartbeat: Duration::from_secs(60),
        }
    }

    fn ballot(prober: usize, states: &str, fresh: bool) -> Ballot {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap();
        Ballot {
            prober,
            fresh,
            vote: Vote {
                digest: "abcd".into(),
                at: t,
                targets: states
                    .chars()
                    .map(|c| {
                        let h = match c {
                            'h' => Health::Healthy,
                            'd' => Health::Down,
                            'g' => Health::Degraded,
                            _ => Health::Unknown,
                        };
                        (h, t)
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn one_cut_off_prober_moves_nothing() {
        let t = tally(
            &settings(2),
            "abcd",
            3,
            &[
                ballot(0, "dhh", true),
                ballot(1, "hhh", true),
                ballot(2, "hhh", true),
            ],
        );
        assert_eq!(t.health, vec![Health::Healthy; 3]);
        assert_eq!(t.writer, Some(0));
    }

    #[test]
    fn an_outage_seen_by_two_of_three_is_down() {
        let t = tally(
            &settings(2),
            "abcd",
            3,
            &[
                ballot(0, "hdh", true),
                ballot(1, "hdh", true),
                ballot(2, "hhh", true),
            ],
        );
        assert_eq!(
            t.health,
            vec![Health::Healthy, Health::Down, Health::Healthy]
        );
        assert!(t.no_quorum.is_empty());
    }

    #[test]
    fn stale_votes_and_other_target_lists_do_not_count() {
        let mut other = ballot(1, "hdh", true);
        other.vote.digest = "ffff".into();
        let t = tally(
            &settings(2),
            "abcd",
            3,
            &[ballot(0, "hdh", false), other, ballot(2, "hdh", true)],
        );
        assert_eq!(t.voters, vec![2]);
        assert_eq!(t.writer, Some(2));
        assert_eq!(t.health, vec![Health::Unknown; 3]);
        assert_eq!(t.no_quorum, vec![0, 1, 2]);
    }

    #[test]
    fn disagreement_without_quorum_is_unknown_and_degraded_counts_as_up() {
        let t = tally(
            &settings(2),
            "abcd",
            2,
            &[ballot(0, "dg", true), ballot(1, "hh", true)],
        );
        assert_eq!(t.health, vec![Health::Unknown, Health::Degraded]);
        assert_eq!(t.no_quorum, vec![0]);
        // A quorum of one: a healthy vote wins over a down one.
        let t = tally(
            &settings(1),
            "abcd",
            1,
            &[ballot(0, "d", true), ballot(1, "h", true)],
        );
        assert_eq!(t.health, vec![Health::Healthy]);
    }
}
