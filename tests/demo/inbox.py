"""The demo's inbox: an SQS queue subscribed to a policy's notification topic, as an operator's
pager would be, and the kinds of message the demo's verdict looks for.

A queue receives from a topic only if its queue policy lets the topic send (SNS guide, "Fanout
to Amazon SQS queues": sqs:SendMessage for sns.amazonaws.com with aws:SourceArn); the demo
writes that policy as a user would.
"""

import datetime as dt
import json


class Inbox:
    def __init__(self, account, region, topic_arn, name):
        self.sqs = account.client("sqs", region)
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "TheTopicDelivers", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]})})
        account.client("sns", region).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                                Attributes={"RawMessageDelivery": "true"})
        self.topic = topic_arn
        self.messages = []

    def drain(self):
        """Reads everything delivered so far (kept in `messages`); returns the new ones."""
        new = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=0).get("Messages", [])
            if not batch:
                break
            for message in batch:
                new.append(classify(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        self.messages += new
        return new

    def alarms(self, suffix, state="ALARM", after=None):
        """Alarm notifications of the alarm whose name holds `suffix`, in `state`."""
        return [m for m in self.messages if m["kind"] == "alarm" and suffix in m["name"]
                and m["state"] == state and (after is None or m["time"] >= after)]

    def of_kind(self, kind):
        return [m for m in self.messages if m["kind"] == kind]


def classify(body):
    """An alarm (CloudWatch's JSON), a tamper message (the tamper rule's JSON) or a failure
    notified by a state machine (its text)."""
    try:
        value = json.loads(body)
    except ValueError:
        value = body
    if isinstance(value, dict) and "AlarmName" in value:
        return {"kind": "alarm", "name": value["AlarmName"], "state": value["NewStateValue"],
                "time": dt.datetime.fromisoformat(value["StateChangeTime"].replace("Z", "+00:00")), "body": value}
    if isinstance(value, dict) and "event" in value and "by" in value:
        return {"kind": "tamper", "event": value["event"], "by": value["by"], "body": value}
    if isinstance(value, str) and value.startswith("Policy ") and ", action " in value:
        return {"kind": "failure", "text": value, "body": value}
    return {"kind": "other", "body": value}
