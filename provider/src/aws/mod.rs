//! The AWS side: SDK clients per region (counting every call), error classification, the
//! inventory listing and the application of a plan.

pub mod apply;
mod convert;
mod deployed;
pub mod drill_api;
pub mod drill_records;
pub mod hold;
mod list;
pub mod pace;
mod snapshot_api;
mod stacks;

pub use apply::apply;
pub use deployed::verify_deployed;
pub(crate) use list::list_databases;
pub use list::{list_inventory, manual_snapshots, restore_accounts};
pub use stacks::{processed_template, stack_resources};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_rds::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_rds::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use chrono::{DateTime, Utc};

use crate::error::{ErrorName, ProviderError};

/// Attempts per AWS call (the SDK's adaptive retry strategy: throttling, 5xx, timeouts and
/// connection errors are retried with backoff, and after throttling the client slows its own
/// request rate: RDS allows a burst of 300 requests and 12 a second sustained per account and
/// region).
pub const MAX_ATTEMPTS: u32 = 5;
/// How long one attempt of an AWS call may take: an endpoint that accepts the request and never
/// answers is cut off and retried, so no run waits for the Lambda's timeout.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting to an endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK timeouts with `attempt` per attempt and all attempts of one call within
/// `MAX_ATTEMPTS` times that.
pub fn timeouts(attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(attempt))
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * MAX_ATTEMPTS)
        .build()
}

/// Counts every HTTP attempt the SDK makes (retries included).
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<AtomicUsize>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_rds::error::BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The newest `Date` header AWS answered with, and when it arrived: AWS's clock, the one that
/// stamps snapshot creation times (a Lambda's own clock may drift; a retried run's schedule
/// time lags).
#[derive(Debug, Clone, Default)]
struct AwsClock(Arc<Mutex<Option<DateSeen>>>);

/// A `Date` header and the moment it was read.
type DateSeen = (DateTime<Utc>, Instant);

impl Intercept for AwsClock {
    fn name(&self) -> &'static str {
        "AwsClock"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_rds::error::BoxError> {
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok());
        if let (Some(date), Ok(mut seen)) = (date, self.0.lock()) {
            *seen = Some((date.with_timezone(&Utc), Instant::now()));
        }
        Ok(())
    }
}

/// A client of SDK crate `$sdk` for `$region`, counting its calls and reading AWS's clock.
macro_rules! client {
    ($sdk:ident, $aws:ident, $region:ident) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from(&$aws.config)
                .region($sdk::config::Region::new($region.to_string()))
                .interceptor($aws.calls.clone())
                .interceptor($aws.clock.clone())
                .build(),
        )
    };
}

/// The SDK configuration from the standard AWS environment, and clients built from it.
#[derive(Debug, Clone)]
pub struct Aws {
    config: SdkConfig,
    calls: CallCounter,
    clock: AwsClock,
    /// RDS's request buckets, one per region, shared by every clone (`pace`).
    rds_buckets: Arc<Mutex<std::collections::BTreeMap<String, Arc<pace::TokenBucket>>>>,
    /// When this invocation's work must end (the Lambda deadline, `run --max-seconds`), and
    /// how long before it no operation starts.
    deadline: Option<(Instant, Duration)>,
}

impl Aws {
    /// Loads region, credentials and endpoint (`AWS_ENDPOINT_URL`) from the environment, with
    /// `MAX_ATTEMPTS` attempts per call and the `timeouts` of `ATTEMPT_TIMEOUT`.
    pub async fn from_env() -> Self {
        Self::from_profile(None).await
    }

    /// As `from_env`, with the named profile of the shared config files when given.
    pub async fn from_profile(profile: Option<&str>) -> Self {
        let mut loader = aws_config::from_env()
            .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(timeouts(ATTEMPT_TIMEOUT));
        if let Some(profile) = profile {
            // A named profile's credentials, even with AWS_ACCESS_KEY_ID & co. in the environment
            // (the default chain would take those first: a CodeBuild stage's, another account's).
            let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .build();
            // Its region too, before AWS_REGION: `status` reads two accounts in two regions, and
            // CodeBuild sets AWS_REGION to the build's own.
            let region = aws_config::meta::region::RegionProviderChain::first_try(
                aws_config::profile::ProfileFileRegionProvider::builder()
                    .profile_name(profile)
                    .build(),
            )
            .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new());
            loader = loader
                .profile_name(profile)
                .credentials_provider(credentials)
                .region(region);
        }
        Self::from_config(loader.load().await)
    }

    pub fn from_config(config: SdkConfig) -> Self {
        Aws {
            config,
            calls: CallCounter::default(),
            clock: AwsClock::default(),
            rds_buckets: Arc::default(),
            deadline: None,
        }
    }

    /// The HTTP client of RDS in `region`: the configured one (the SDK's default over rustls
    /// when none is), paced by this invocation's share of the region's RDS bucket.
    fn paced_rds_http(&self, region: &str) -> pace::PacedHttpClient {
        let bucket = self.rds_bucket(region);
        let inner = self.config.http_client().unwrap_or_else(|| {
            use aws_smithy_http_client::tls;
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        });
        pace::PacedHttpClient::new(inner, bucket)
    }

    /// This invocation's share of RDS's bucket in `region`, made at its first use.
    fn rds_bucket(&self, region: &str) -> Arc<pace::TokenBucket> {
        let mut buckets = self.rds_buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .entry(region.to_string())
            .or_insert_with(|| Arc::new(pace::TokenBucket::rds_share_from_env()))
            .clone()
    }

    /// The same configuration with fresh RDS buckets: each Lambda invocation paces itself
    /// from an empty share (`pace`), whatever an earlier invocation of the same warm
    /// environment left in its own.
    pub fn for_invocation(&self) -> Self {
        Aws {
            rds_buckets: Arc::default(),
            ..self.clone()
        }
    }

    /// The same clients, for work that must end by `deadline`: no operation starts when less
    /// than `margin` is left.
    pub fn with_deadline(mut self, deadline: Instant, margin: Duration) -> Self {
        self.deadline = Some((deadline, margin));
        self
    }

    /// Time left before the deadline, if there is one.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|(d, _)| d.saturating_duration_since(Instant::now()))
    }

    /// How long before the deadline no operation starts.
    pub fn deadline_margin(&self) -> Duration {
        self.deadline.map(|(_, m)| m).unwrap_or_default()
    }

    /// The SDK configuration the clients are built from.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The endpoint every client uses (`AWS_ENDPOINT_URL`, a profile's `endpoint_url`), if set.
    pub fn endpoint_url(&self) -> Option<String> {
        self.config.endpoint_url().map(str::to_string)
    }

    /// The region the provider runs in.
    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(&self.config)
                .region(aws_sdk_rds::config::Region::new(region.to_string()))
                .http_client(self.paced_rds_http(region))
                .interceptor(self.calls.clone())
                .interceptor(self.clock.clone())
                .build(),
        )
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        client!(aws_sdk_kms, self, region)
    }

    pub fn sfn(&self, region: &str) -> aws_sdk_sfn::Client {
        client!(aws_sdk_sfn, self, region)
    }

    pub fn cloudformation(&self, region: &str) -> aws_sdk_cloudformation::Client {
        client!(aws_sdk_cloudformation, self, region)
    }

    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        client!(aws_sdk_cloudwatch, self, region)
    }

    /// IAM is global: `region` only picks the endpoint's partition.
    pub fn iam(&self, region: &str) -> aws_sdk_iam::Client {
        client!(aws_sdk_iam, self, region)
    }

    pub fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        client!(aws_sdk_cloudtrail, self, region)
    }

    pub fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        client!(aws_sdk_cloudwatchlogs, self, region)
    }

    /// Now by AWS's clock (the last response's `Date`, plus the time since), or by this
    /// machine's clock before any response.
    pub fn now(&self) -> DateTime<Utc> {
        match self.clock.0.lock().ok().and_then(|seen| *seen) {
            Some((date, at)) => date + chrono::Duration::from_std(at.elapsed()).unwrap_or_default(),
            None => Utc::now(),
        }
    }

    /// AWS calls made so far through this value's clients.
    pub fn calls(&self) -> usize {
        self.calls.0.load(Ordering::Relaxed)
    }
}

/// Adds `tags` (contract keys only) to the snapshot `arn` in `region`.
pub async fn tag_snapshot(
    aws: &Aws,
    region: &str,
    kind: crate::inventory::Kind,
    arn: &str,
    tags: &[(String, String)],
) -> Result<(), ProviderError> {
    snapshot_api::SnapshotApi {
        rds: aws.rds(region),
        kind,
    }
    .tag(arn, tags, &format!("tagging {arn}"))
    .await
}

/// The error code of an SDK error, if the service sent one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    match err {
        SdkError::ServiceError(e) => e.err().code().map(str::to_string),
        _ => None,
    }
}

/// The result of a call whose answer matters only as success.
pub trait Finished {
    /// `Ok(())`, or the error classified with `context`.
    fn finished(self, context: &str) -> Result<(), ProviderError>;
    /// The same, keeping the error's code for callers that accept one (`AlreadyExists`,
    /// `NotFound`).
    fn finished_or_code(self, context: &str) -> Result<(), (Option<String>, ProviderError)>;
}

impl<T, E, R> Finished for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    fn finished(self, context: &str) -> Result<(), ProviderError> {
        self.map(drop).map_err(|e| classify(e, context))
    }

    fn finished_or_code(self, context: &str) -> Result<(), (Option<String>, ProviderError)> {
        self.map(drop)
            .map_err(|e| (error_code(&e), classify(e, context)))
    }
}

/// The HTTP status of a raw SDK response.
pub trait HttpStatus {
    fn http_status(&self) -> u16;
}

impl HttpStatus for aws_sdk_rds::config::http::HttpResponse {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Maps an SDK error to the provider's error names; `context` says what was being done to what.
/// Timeouts, connection failures, unreadable responses and any 5xx without a known code are
/// transient (retried); a known code decides otherwise.
pub fn classify<E, R>(err: SdkError<E, R>, context: &str) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let server_fault = err.raw_response().is_some_and(|r| r.http_status() >= 500);
    let (code, message) = match &err {
        SdkError::ServiceError(e) => (
            e.err().code().unwrap_or("Unknown").to_string(),
            e.err().message().unwrap_or_default().to_string(),
        ),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return ProviderError::new(
                ErrorName::TransientAwsError,
                format!(
                    "{context}: {}",
                    aws_sdk_rds::error::DisplayErrorContext(&err)
                ),
            );
        }
        _ => (
            "Unknown".to_string(),
            aws_sdk_rds::error::DisplayErrorContext(&err).to_string(),
        ),
    };
    let kind = match code.as_str() {
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => ErrorName::Throttled,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "KMSKeyNotAccessibleFault"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "NotAuthorized" => ErrorName::AccessDenied,
        "SnapshotQuotaExceeded" | "SnapshotQuotaExceededFault" | "SharedSnapshotQuotaExceeded" => {
            ErrorName::QuotaExceeded
        }
        "InvalidDBInstanceState" | "InvalidDBInstanceStateFault" | "InvalidDBClusterStateFault" => {
            ErrorName::DatabaseNotAvailable
        }
        "InvalidDBSnapshotState"
        | "InvalidDBSnapshotStateFault"
        | "InvalidDBClusterSnapshotStateFault" => ErrorName::SnapshotPending,
        "DBInstanceNotFound" | "DBInstanceNotFoundFault" | "DBClusterNotFoundFault" => {
            ErrorName::DatabaseNotFound
        }
        "InternalFailure" | "InternalError" | "ServiceUnavailable" => ErrorName::TransientAwsError,
        _ if server_fault => ErrorName::TransientAwsError,
        _ => ErrorName::AwsError,
    };
    ProviderError::new(kind, format!("{context}: {code}: {message}"))
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::config::http::HttpResponse;
    use aws_sdk_rds::error::ErrorMetadata;
    use aws_sdk_rds::operation::describe_db_snapshots::DescribeDBSnapshotsError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service_error(
        status: u16,
        code: Option<&str>,
    ) -> SdkError<DescribeDBSnapshotsError, HttpResponse> {
        let mut meta = ErrorMetadata::builder();
        if let Some(code) = code {
            meta = meta.code(code).message("from the test");
        }
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(DescribeDBSnapshotsError::generic(meta.build()), raw)
    }

    #[tokio::test]
    async fn no_call_from_the_lambda_waits_without_a_limit() {
        let aws = Aws::from_env().await;
        let timeouts = aws.config.timeout_config().expect("timeouts are set");
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(
            timeouts.operation_timeout(),
            Some(ATTEMPT_TIMEOUT * MAX_ATTEMPTS)
        );
        let retries = aws.config.retry_config().expect("retries are set");
        assert_eq!(retries.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(
            retries.mode(),
            aws_config::retry::RetryMode::Adaptive,
            "throttling slows the client down"
        );
    }

    #[tokio::test]
    async fn each_invocation_paces_from_its_own_bucket() {
        let aws = Aws::from_env().await;
        let bucket = aws.rds_bucket("eu-west-1");
        // Clones (the tasks of one invocation) share it; another region has its own.
        assert!(Arc::ptr_eq(&bucket, &aws.clone().rds_bucket("eu-west-1")));
        assert!(!Arc::ptr_eq(&bucket, &aws.rds_bucket("eu-central-1")));
        // The next invocation of a warm environment does not inherit what this one banked.
        let next = aws.for_invocation();
        assert!(!Arc::ptr_eq(&bucket, &next.rds_bucket("eu-west-1")));
        assert!(Arc::ptr_eq(
            &next.rds_bucket("eu-west-1"),
            &next.rds_bucket("eu-west-1")
        ));
    }

    #[test]
    fn server_faults_are_transient_and_codes_decide_otherwise() {
        let kind = |status, code| classify(service_error(status, code), "listing").kind;
        assert_eq!(kind(503, None), ErrorName::TransientAwsError);
        assert_eq!(
            kind(500, Some("SomethingNew")),
            ErrorName::TransientAwsError
        );
        assert_eq!(
            kind(502, Some("InternalFailure")),
            ErrorName::TransientAwsError
        );
        assert_eq!(kind(400, Some("Throttling")), ErrorName::Throttled);
        assert_eq!(kind(403, Some("AccessDenied")), ErrorName::AccessDenied);
        assert_eq!(kind(400, Some("SomethingNew")), ErrorName::AwsError);
        assert_eq!(kind(400, None), ErrorName::AwsError);
        let message = classify(service_error(503, None), "listing DB snapshots").message;
        assert!(
            message.starts_with("listing DB snapshots: Unknown"),
            "{message}"
        );
    }
}
