//! Pacing RDS's API (issue 28): RDS throttles each account and region with a token bucket,
//! "By default, you can make up to 300 requests in a burst and a sustained 12 requests per
//! second" (RDS User Guide, "Request throttling for the Amazon RDS API"). Every RDS request of
//! one invocation (every task, every page, every retry) takes a token from one client-side
//! bucket first, so an invocation never asks for more than its share.
//!
//! The share: the provider's reserved concurrency bounds how many invocations run at once
//! (`ProviderConcurrency` in `templates/install.yaml`), and each of N takes 1/N of the
//! account's rate and may hold 1/N of its burst, so that together they stay within the
//! account's bucket. Alone (the default) an invocation has the whole bucket, full.
//!
//! One of N starts **empty** and fills at its rate: it may bank what it did not spend while it
//! ran (its start, waits on answers) and spend it later, but never a burst it did not earn.
//! That is what makes the shares safe whatever the order of invocations: at most N run at
//! once, so they can be laid out on N lanes in which they follow each other; in any window of
//! T seconds a lane sends at most what its running invocation had banked when the window
//! opened (≤ burst / N) plus rate / N × T, and the N lanes together at most burst + rate × T,
//! which the account's bucket allows. An invocation starting full would let back-to-back
//! invocations of one lane spend the burst again each time. So the bucket is made afresh for
//! each invocation (`Aws::for_invocation`): a warm Lambda environment does not carry a
//! bucket from one invocation to the next, nor fill it while idle.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

/// RDS's documented bucket per account and region.
pub const RDS_BURST: f64 = 300.0;
pub const RDS_REQUESTS_PER_SECOND: f64 = 12.0;

/// The environment the install stack sets: how many provider invocations may run at once
/// (its reserved concurrency), and the account's RDS rate when AWS raised it.
pub const CONCURRENCY_ENV: &str = "RSP_PROVIDER_CONCURRENCY";
pub const RATE_ENV: &str = "RSP_RDS_REQUESTS_PER_SECOND";

/// A token bucket: `capacity` tokens, refilled at `rate` a second.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    state: Mutex<(f64, Option<Instant>)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: f64, rate: f64) -> Self {
        let capacity = capacity.max(1.0);
        Self {
            capacity,
            rate: rate.max(0.01),
            state: Mutex::new((capacity, None)),
        }
    }

    /// An empty bucket at `now`, filling from then on.
    pub fn empty(capacity: f64, rate: f64, now: Instant) -> Self {
        let bucket = Self::new(capacity, rate);
        *bucket.state.lock().unwrap_or_else(|e| e.into_inner()) = (0.0, Some(now));
        bucket
    }

    /// This invocation's share of RDS's bucket, from the environment (`CONCURRENCY_ENV`,
    /// `RATE_ENV`; unset or invalid: one invocation, 12 a second).
    pub fn rds_share_from_env() -> Self {
        Self::rds_share(
            std::env::var(CONCURRENCY_ENV).ok().as_deref(),
            std::env::var(RATE_ENV).ok().as_deref(),
        )
    }

    /// One of `concurrency` invocations' share of an account bucket refilled at `rate` a
    /// second; a missing or invalid value counts as 1 and 12.
    pub fn rds_share(concurrency: Option<&str>, rate: Option<&str>) -> Self {
        let number = |text: Option<&str>| {
            text.and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 1.0)
        };
        let share = number(concurrency).unwrap_or(1.0).min(1000.0);
        let rate = number(rate)
            .unwrap_or(RDS_REQUESTS_PER_SECOND)
            .min(10_000.0);
        let burst = RDS_BURST * rate / RDS_REQUESTS_PER_SECOND;
        if share <= 1.0 {
            Self::new(burst, rate)
        } else {
            Self::empty(burst / share, rate / share, Instant::now())
        }
    }

    /// The tokens there are at `now` (for tests and logs).
    pub fn level(&self, now: Instant) -> f64 {
        let (tokens, last) = *self.state.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = last.map_or(0.0, |l| now.saturating_duration_since(l).as_secs_f64());
        (tokens + elapsed * self.rate).min(self.capacity)
    }

    pub fn capacity(&self) -> f64 {
        self.capacity
    }

    /// Takes a token at `now`: how long to wait before sending. Tokens are reserved in order,
    /// so concurrent callers queue behind each other instead of racing.
    pub fn take(&self, now: Instant) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let elapsed = last.map_or(0.0, |l| now.saturating_duration_since(l).as_secs_f64());
        let available = (tokens + elapsed * self.rate).min(self.capacity) - 1.0;
        *state = (available, Some(now.max(last.unwrap_or(now))));
        if available >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-available / self.rate)
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }
}

/// An HTTP client whose every request first waits for a token of `bucket`.
#[derive(Debug, Clone)]
pub struct PacedHttpClient {
    inner: SharedHttpClient,
    bucket: Arc<TokenBucket>,
}

impl PacedHttpClient {
    pub fn new(inner: SharedHttpClient, bucket: Arc<TokenBucket>) -> Self {
        Self { inner, bucket }
    }
}

impl HttpClient for PacedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        PacedConnector {
            inner: self.inner.http_connector(settings, components),
            bucket: self.bucket.clone(),
        }
        .into_shared()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    bucket: Arc<TokenBucket>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let wait = self.bucket.take(Instant::now());
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_burst_is_free_then_the_refill_paces() {
        let bucket = TokenBucket::new(3.0, 2.0);
        let t0 = Instant::now();
        let waits: Vec<_> = (0..5).map(|_| bucket.take(t0)).collect();
        assert_eq!(waits[..3], [Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(500));
        assert_eq!(waits[4], Duration::from_secs(1));
        // Idle long enough, the bucket is full again (never more than its capacity).
        let later = t0 + Duration::from_secs(60);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert!(bucket.take(later) > Duration::ZERO);
    }

    proptest! {
        /// However the requests arrive, the sends they are told to make never exceed the
        /// bucket: in any window of `w` seconds at most capacity + rate × w.
        #[test]
        fn sends_never_exceed_the_bucket(
            gaps_ms in proptest::collection::vec(0u64..400, 1..200),
            capacity in 1.0f64..50.0,
            rate in 0.5f64..20.0,
        ) {
            let bucket = TokenBucket::new(capacity, rate);
            let t0 = Instant::now();
            let mut at = t0;
            let mut sends = Vec::new();
            for gap in gaps_ms {
                at += Duration::from_millis(gap);
                sends.push((at + bucket.take(at)).duration_since(t0).as_secs_f64());
            }
            sends.sort_by(f64::total_cmp);
            for (i, start) in sends.iter().enumerate() {
                for (j, end) in sends.iter().enumerate().skip(i) {
                    let allowed = capacity + rate * (end - start) + 1e-6;
                    prop_assert!((j - i + 1) as f64 <= allowed);
                }
            }
        }
    }

    #[test]
    fn the_share_divides_the_accounts_bucket() {
        let four = TokenBucket::rds_share(Some("4"), None);
        assert_eq!((four.capacity(), four.rate()), (75.0, 3.0));
        let raised = TokenBucket::rds_share(Some("2"), Some("24"));
        assert_eq!((raised.capacity(), raised.rate()), (300.0, 12.0));
        let alone_raised = TokenBucket::rds_share(Some("1"), Some("24"));
        assert_eq!(
            (alone_raised.capacity(), alone_raised.rate()),
            (600.0, 24.0)
        );
        for bad in [
            None,
            Some(""),
            Some("0"),
            Some("-3"),
            Some("NaN"),
            Some("lots"),
        ] {
            let alone = TokenBucket::rds_share(bad, bad);
            assert_eq!((alone.capacity(), alone.rate()), (300.0, 12.0), "{bad:?}");
        }
    }

    #[test]
    fn alone_starts_full_and_one_of_several_starts_empty() {
        let now = Instant::now();
        let alone = TokenBucket::rds_share(None, None);
        assert!(alone.level(now) >= 300.0 - 1e-9);
        let one_of_four = TokenBucket::rds_share(Some("4"), None);
        assert!(one_of_four.level(now) < 1.0, "{}", one_of_four.level(now));
        // It banks its rate while it does not send, up to its quarter of the burst.
        assert!((one_of_four.level(now + Duration::from_secs(10)) - 30.0).abs() < 0.1);
        assert_eq!(one_of_four.level(now + Duration::from_secs(600)), 75.0);
    }

    proptest! {
        /// N lanes of back-to-back invocations, each with a fresh share that starts empty,
        /// however long each runs and however its requests arrive, never send more than the
        /// account's bucket allows: in any window of `w` seconds at most 300 + 12 × w. (The
        /// same with shares starting full fails: each new invocation would spend 75 at once.)
        #[test]
        fn fresh_shares_of_n_lanes_stay_within_the_accounts_bucket(
            lanes in 1usize..6,
            runs in proptest::collection::vec((1u64..120_000, 0u64..400, 1usize..300), 1..40),
        ) {
            let t0 = Instant::now();
            let mut lane_free = vec![t0; lanes];
            let mut sends = Vec::new();
            for (i, (length_ms, gap_ms, requests)) in runs.into_iter().enumerate() {
                let lane = i % lanes;
                let start = lane_free[lane];
                let share = lanes.to_string();
                let bucket = TokenBucket::rds_share(Some(&share), None);
                // rds_share starts the bucket at the real now; restart it at the lane's start.
                let bucket = TokenBucket::empty(bucket.capacity(), bucket.rate(), start);
                let mut at = start;
                let mut last = start;
                for _ in 0..requests {
                    at += Duration::from_millis(gap_ms);
                    let send = at + bucket.take(at);
                    sends.push(send.duration_since(t0).as_secs_f64());
                    last = last.max(send);
                }
                lane_free[lane] = (start + Duration::from_millis(length_ms)).max(last);
            }
            sends.sort_by(f64::total_cmp);
            // Every window [send i, send j] holds j - i + 1 sends: at most 300 + 12 × its
            // length, i.e. (j - 12 t_j) + max over i ≤ j of (12 t_i - i) + 1 ≤ 300.
            let mut best_start = f64::NEG_INFINITY;
            for (j, t) in sends.iter().enumerate() {
                best_start = best_start.max(RDS_REQUESTS_PER_SECOND * t - j as f64);
                let most = j as f64 - RDS_REQUESTS_PER_SECOND * t + best_start + 1.0;
                prop_assert!(most <= RDS_BURST + 1e-6, "{most} sends in a window, more than the bucket allows");
            }
        }
    }
}
