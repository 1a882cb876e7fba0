//! The policy's CloudWatch alarms share one form: the Maximum of a metric the provider publishes
//! (dimension Policy) over one period, above a threshold, notifying the policy's topic on alarm
//! and again on OK.

use rds_snapshot_policy_core::contract::metrics;
use serde_json::{Value, json};

/// What differs between the policy's alarms.
pub struct Alarm<'a> {
    pub metric: &'a str,
    pub description: String,
    pub period: u64,
    pub threshold: u64,
    /// `TreatMissingData`: "breaching" where silence is itself a failure.
    pub missing: &'a str,
}

impl Alarm<'_> {
    /// A count the provider publishes each run (0 included): any sighting notifies, and the
    /// next clean run returns it to OK.
    pub fn on_count(metric: &str, description: String) -> Alarm<'_> {
        Alarm {
            metric,
            description,
            period: 300,
            threshold: 0,
            missing: "notBreaching",
        }
    }

    /// The `AWS::CloudWatch::Alarm` resource for the policy `policy_id`, to `topic_arn`.
    pub fn resource(self, policy_id: &Value, topic_arn: &Value) -> Value {
        json!({
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": self.description,
                "Namespace": metrics::NAMESPACE,
                "MetricName": self.metric,
                "Dimensions": [{"Name": metrics::DIMENSION_POLICY, "Value": policy_id}],
                "Statistic": "Maximum",
                "Period": self.period,
                "EvaluationPeriods": 1,
                "Threshold": self.threshold,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": self.missing,
                "AlarmActions": [topic_arn],
                "OKActions": [topic_arn],
            }
        })
    }
}
