//! AWS that never answers, and events as the Lambda runtime receives them: for tests of event
//! handling where nothing may leave 127.0.0.1.

use provider::aws::Aws;
use rds_snapshot_policy_core::lambda_input::LambdaInput;

/// An `Aws` whose endpoint is a closed port on 127.0.0.1, without retries.
pub async fn offline_aws() -> Aws {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_rds::config::Credentials::new(
            "offline", "offline", None, None, "offline",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    Aws::from_config(config)
}

/// Deserializes `text` as lambda_runtime does (serde_path_to_error over serde_json).
pub fn received(text: &str) -> LambdaInput {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).expect("a LambdaInput never fails to deserialize")
}
